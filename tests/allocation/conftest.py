"""Allocation fixtures: a tenant's dimensions and helpers to load cost rows and write rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from allocation.models import BusinessUnit, CostCenter, Environment, Feature, Project
from allocation.services.dimensions import dimension_create
from allocation.services.rules import tag_rule_create
from tests.providers.costs.test_query import focus_row, load, yandex_vat  # noqa: F401

JAN = dt.date(2026, 1, 10)


@dataclass
class Dims:
    digital: BusinessUnit
    platform: BusinessUnit
    web: Project
    data: Project
    infra: Project
    checkout: Feature
    prod: Environment
    dev: Environment
    rnd: CostCenter


@pytest.fixture
def dims(world) -> Dims:
    def make(kind, **fields):
        return dimension_create(actor=None, kind=kind, tenant=world.a, **fields)

    digital = make("business_unit", name="Digital")
    platform = make("business_unit", name="Platform")
    web = make("project", name="Web", business_unit=digital)
    data = make("project", name="Data", business_unit=digital)
    infra = make("project", name="Infra", business_unit=platform)
    return Dims(
        digital=digital,
        platform=platform,
        web=web,
        data=data,
        infra=infra,
        checkout=make("feature", name="Checkout", project=web),
        prod=make("environment", name="prod"),
        dev=make("environment", name="dev"),
        rnd=make("cost_center", name="R&D", code="CC-100"),
    )


@pytest.fixture
def rule(world):
    def create(name, conditions, tenant=None, **targets):
        return tag_rule_create(
            actor=None, tenant=tenant or world.a, name=name, conditions=conditions, **targets
        )

    return create


def cond(field, op="in", *values, key=None, **extra):
    item = {"field": field, "op": op}
    if key is not None:
        item["key"] = key
    if op in ("in", "not_in"):
        item["values"] = list(values)
    elif op in ("regex", "not_regex"):
        item["value"] = values[0]
    item.update(extra)
    return item


__all__ = ["JAN", "Dims", "cond", "focus_row", "load"]
