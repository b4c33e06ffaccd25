"""Demo: business dimensions and mapping rules for Romashka LLC, and a project lead who sees only
their project.

The rules fit the Yandex Cloud simulator's data (labels ``team`` and ``env``, folders
``folder-1``, ``folder-2``, …): teams map to projects, ``env`` (with its aliases) to environments,
and the virtual tag ``team`` copies the label — except in ``folder-2``, where the resources nobody
labelled are caught by a rule and given to the platform team. Costs the worker imports are mapped
as they arrive (the import hook); costs already there are re-mapped by the run a rule change
queues. Idempotent: what exists is kept.

Shared costs (the worked example): the Kubernetes cluster the three projects share and Yandex
Cloud's technical-support plan (a daily fee, imported here as a small FOCUS file: the simulator
bills no support) are split every day over Web shop, Data platform and Core infrastructure in
proportion to each project's direct cost that day. Shares are whole kopecks; the rest — and
the whole fee on a day when no project has direct costs — is shown as unallocated. See the
portal's Allocation → Shared costs, or ``/api/v1/cost-query/?group_by=project&allocation=include``.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model

from allocation.models import DIMENSION_MODELS, RequiredTag, TagAlias, TagRule, VirtualTag
from core.capabilities import Role
from core.models import Membership

TENANT = "romashka"
LEAD = ("romashka-lead", "lead@romashka.example", "Romashka project lead (sees Web shop only)")
BUSINESS_UNITS = [("Digital", "BU-10"), ("Platform", "BU-20")]
PROJECTS = [
    ("Web shop", "Digital"),
    ("Data platform", "Digital"),
    ("Core infrastructure", "Platform"),
]
ENVIRONMENTS = ["prod", "staging", "dev"]
COST_CENTERS = [("R&D", "CC-100")]
KEY_ALIASES = [("Env", "env"), ("environment", "env"), ("Team", "team")]
VALUE_ALIASES = [("env", "production", "prod"), ("env", "development", "dev")]
REQUIRED = [("env", "Where it runs"), ("team", "Who answers for it")]


def _tag(key, values):
    return {"field": "tag", "key": key, "op": "in", "values": values}


# name, conditions, targets (names resolved below)
RULES = [
    ("Web team", [_tag("team", ["web"])], {"project": "Web shop"}),
    ("Data team", [_tag("team", ["data", "ml"])], {"project": "Data platform"}),
    ("Core team", [_tag("team", ["core", "billing"])], {"project": "Core infrastructure"}),
    (
        "Untagged in folder-2: platform team",
        [
            {"field": "sub_account", "op": "in", "values": ["folder-2"]},
            {"field": "tag", "key": "team", "op": "missing"},
        ],
        {"project": "Core infrastructure", "virtual_tag": ("team", "platform")},
    ),
    ("Team label", [{"field": "tag", "key": "team", "op": "exists"}], {"team_from": "team"}),
    *((f"{env} environment", [_tag("env", [env])], {"environment": env}) for env in ENVIRONMENTS),
    ("Everything: R&D", [], {"cost_center": "R&D"}),
]


def create_allocation(demo) -> None:
    from allocation.services.dimensions import dimension_create
    from allocation.services.rules import tag_rule_create
    from allocation.services.tags import (
        required_tag_create,
        tag_alias_create,
        virtual_tag_create,
    )

    tenant = demo.tenants[TENANT]

    def value(kind, name, **fields):
        model = DIMENSION_MODELS[kind]
        found = model.objects.filter(tenant=tenant, name=name).first()
        if found is None:
            found = dimension_create(actor=None, kind=kind, tenant=tenant, name=name, **fields)
            demo.note_created(f"{kind} {name!r} @ {tenant.slug}")
        return found

    bus = {name: value("business_unit", name, code=code) for name, code in BUSINESS_UNITS}
    projects = {name: value("project", name, business_unit=bus[bu]) for name, bu in PROJECTS}
    environments = {name: value("environment", name) for name in ENVIRONMENTS}
    centers = {name: value("cost_center", name, code=code) for name, code in COST_CENTERS}
    team = VirtualTag.objects.filter(tenant=tenant, key="team").first() or virtual_tag_create(
        actor=None, tenant=tenant, key="team", description="The team that runs it"
    )
    for alias, canonical in KEY_ALIASES:
        if not TagAlias.objects.filter(tenant=tenant, kind="key", alias=alias).exists():
            tag_alias_create(
                actor=None, tenant=tenant, kind="key", alias=alias, canonical=canonical
            )
    for key, alias, canonical in VALUE_ALIASES:
        if not TagAlias.objects.filter(tenant=tenant, kind="value", key=key, alias=alias).exists():
            tag_alias_create(
                actor=None, tenant=tenant, kind="value", key=key, alias=alias, canonical=canonical
            )
    for key, description in REQUIRED:
        if not RequiredTag.objects.filter(tenant=tenant, key=key).exists():
            required_tag_create(actor=None, tenant=tenant, key=key, description=description)
    for name, conditions, targets in RULES:
        if TagRule.objects.filter(tenant=tenant, name=name).exists():
            continue
        fields = {}
        if "project" in targets:
            fields["project"] = projects[targets["project"]]
        if "environment" in targets:
            fields["environment"] = environments[targets["environment"]]
        if "cost_center" in targets:
            fields["cost_center"] = centers[targets["cost_center"]]
        if "virtual_tag" in targets:
            fields["virtual_tag"], fields["virtual_tag_value"] = team, targets["virtual_tag"][1]
        if "team_from" in targets:
            fields["virtual_tag"], fields["virtual_tag_from_key"] = team, targets["team_from"]
        tag_rule_create(actor=None, tenant=tenant, name=name, conditions=conditions, **fields)
        demo.note_created(f"mapping rule {name!r} @ {tenant.slug}")


SUPPORT_SERVICE = "Technical support"
SHARED_RULES = [
    ("Shared Kubernetes cluster", ["Managed Service for Kubernetes"]),
    ("Technical support plan", [SUPPORT_SERVICE]),
]
SUPPORT_FEE_PER_DAY = "16.13"  # RUB: 500 a month, charged daily
SUPPORT_DAYS = 31
SUPPORT_SOURCE = "demo-support-plan"


def create_shared_costs(demo) -> None:
    from allocation.models import AllocationRule, Project
    from allocation.services.shared import allocation_rule_create

    tenant = demo.tenants[TENANT]
    projects = list(
        Project.objects.filter(tenant=tenant, name__in=[name for name, _bu in PROJECTS]).order_by(
            "name"
        )
    )
    for name, services in SHARED_RULES:
        if AllocationRule.objects.filter(tenant=tenant, name=name).exists():
            continue
        allocation_rule_create(
            actor=None,
            tenant=tenant,
            name=name,
            conditions=[{"field": "service", "op": "in", "values": services}],
            dimension="project",
            method="direct_cost",
            targets=[{"id": project.pk} for project in projects],
            description="Split across the three projects in proportion to their direct cost.",
        )
        demo.note_created(f"shared-cost rule {name!r} @ {tenant.slug}")
    _import_support_fee(demo, tenant)


def _import_support_fee(demo, tenant) -> None:
    """The support plan's daily fee for the last SUPPORT_DAYS days to today (Moscow days, as Yandex
    bills), as a FOCUS file through the ordinary import (mapped, rolled up and allocated)."""
    import datetime as dt
    import io
    from decimal import Decimal

    from providers.focus.writer import write_focus_csv
    from providers.models import CostLineItem
    from providers.services.costs import cost_file_import

    msk = dt.timezone(dt.timedelta(hours=3))
    today = dt.datetime.now(msk).date()
    today_start = dt.datetime(today.year, today.month, today.day, tzinfo=msk)
    if CostLineItem.objects.filter(
        tenant=tenant, x_source_key=SUPPORT_SOURCE, charge_period_start=today_start
    ).exists():
        return  # already there for today: re-running the demo adds nothing
    rows = []
    for n in range(SUPPORT_DAYS - 1, -1, -1):  # up to today, charged at the start of the day
        day = today - dt.timedelta(days=n)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=msk).astimezone(dt.UTC)
        month = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
        fee = Decimal(SUPPORT_FEE_PER_DAY)
        rows.append(
            {
                "billed_cost": fee,
                "effective_cost": fee,
                "list_cost": fee,
                "contracted_cost": fee,
                "billing_account_id": "romashka-billing",
                "billing_account_name": "Romashka LLC",
                "billing_currency": "RUB",
                "billing_period_start": month,
                "billing_period_end": (month + dt.timedelta(days=32)).replace(day=1),
                "charge_period_start": start,
                "charge_period_end": start + dt.timedelta(days=1),
                "charge_category": "Usage",
                "charge_description": "Technical support plan (Business), daily fee",
                "invoice_issuer_name": "Yandex Cloud",
                "provider_name": "Yandex Cloud",
                "publisher_name": "Yandex Cloud",
                "service_category": "Other",
                "service_name": SUPPORT_SERVICE,
                "sub_account_id": "romashka-billing",
                "sub_account_name": "Romashka LLC",
            }
        )
    text = io.StringIO()
    write_focus_csv(text, rows)
    run = cost_file_import(
        actor=None,
        tenant=tenant,
        file=io.BytesIO(text.getvalue().encode()),
        file_name="support-plan.csv",
        source_key=SUPPORT_SOURCE,
    )
    if run.status == "succeeded":
        demo.note_created(f"support-plan fee ({run.rows_loaded} days) @ {tenant.slug}")


def create_project_lead(demo) -> None:
    """A viewer of Romashka limited to the Web shop project."""
    from allocation.models import Project
    from core.services.memberships import membership_create, membership_scope_set

    tenant = demo.tenants[TENANT]
    username, email, purpose = LEAD
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    shared = os.environ.get("DEMO_PASSWORD")
    password = shared or demo.stored_passwords.get(username)
    must_set = user is None or demo.reset_passwords or password is None
    password = password or secrets.token_urlsafe(12)
    if user is None:
        user = User(username=username, email=email)
        demo.note_created(f"user {username}")
    elif shared and not user.check_password(shared):
        must_set = True
    if must_set:
        user.set_password(password)
    user.save()
    demo.users["romashka_lead"] = user
    demo.accounts.append({"username": username, "password": password, "what": purpose})
    membership = Membership.objects.filter(tenant=tenant, user=user).first()
    if membership is None:
        membership = membership_create(actor=None, tenant=tenant, user=user, role=Role.VIEWER)
        demo.note_created(f"membership {username} @ {tenant.slug} (viewer)")
    web = Project.objects.get(tenant=tenant, name="Web shop")
    if membership.dimension_scope != {"project": [web.pk]}:
        membership_scope_set(
            actor=None, membership=membership, dimension_scope={"project": [web.pk]}
        )


# --- unit economics and chargeback ----------------------------------------------------------
PRICE_BOOK = "Romashka standard terms"
MARKUP = "0.15"  # +15% on provider cost
FIXED_FEE = ("Managed cloud operations", "15000.00")  # every month, net of VAT
ORDERS = "Orders"
ORDER_DAYS = 90


def create_chargeback(demo) -> None:
    """Romashka is billed by the MSP: provider cost + 15%, a monthly fixed fee, VAT 22%
    (the rate for 2026; a price book field, not a constant), the invoice e-mailed on the 1st."""
    import datetime as dt
    from decimal import Decimal

    from allocation.models import PriceBook
    from allocation.services.billing import price_book_charge_create, price_book_create

    tenant = demo.tenants[TENANT]
    if PriceBook.objects.filter(tenant=tenant, name=PRICE_BOOK).exists():
        return
    book = price_book_create(
        actor=None,
        tenant=tenant,
        name=PRICE_BOOK,
        valid_from=dt.date(2025, 1, 1),
        vat_rate=Decimal("0.22"),
        default_markup=Decimal(MARKUP),
        email_to="finance@romashka.example",
        auto_invoice=True,
    )
    price_book_charge_create(
        actor=None,
        price_book=book,
        kind="fixed_fee",
        description=FIXED_FEE[0],
        amount=Decimal(FIXED_FEE[1]),
    )
    demo.note_created(f"price book {PRICE_BOOK!r} @ {tenant.slug} (+15%, fixed fee)")


def create_orders_metric(demo) -> None:
    """Orders per day for the last 90 days (a steady shop with a weekly rhythm), so the
    Unit economics page shows cost per order as soon as costs arrive."""
    import datetime as dt

    from django.utils import timezone

    from allocation.models import BusinessMetric
    from allocation.services.metrics import business_metric_create, business_metric_points_upsert

    tenant = demo.tenants[TENANT]
    if BusinessMetric.objects.filter(tenant=tenant, name=ORDERS).exists():
        return
    metric = business_metric_create(
        actor=None,
        tenant=tenant,
        name=ORDERS,
        unit="order",
        description="Orders placed in the web shop",
    )
    today = timezone.now().date()
    points = []
    for back in range(ORDER_DAYS):
        day = today - dt.timedelta(days=back)
        weekend = day.weekday() >= 5
        points.append({"date": day.isoformat(), "value": 900 + 7 * (back % 13) + 250 * weekend})
    business_metric_points_upsert(actor=None, metric=metric, points=points)
    demo.note_created(f"business metric {ORDERS!r} @ {tenant.slug} ({ORDER_DAYS} days)")


STEPS = [
    create_allocation,
    create_shared_costs,
    create_project_lead,
    create_chargeback,
    create_orders_metric,
]
