"""SAMPLES / CREATE_PAYLOADS / SERVICE_CASES for the allocation app and the membership scope
(imported by samples.py)."""

from __future__ import annotations

from tests.contracts.samples import CREATE_PAYLOADS, sample, service_case

_seq = iter(range(10**9))


def _name(prefix: str) -> str:
    return f"{prefix} {next(_seq)}"


def _dimension(kind: str, tenant, **fields):
    from allocation.services.dimensions import dimension_create

    return dimension_create(actor=None, kind=kind, tenant=tenant, name=_name(kind), **fields)


@sample("allocation.businessunit")
def _business_unit(world, tenant):
    return _dimension("business_unit", tenant)


@sample("allocation.project")
def _project(world, tenant):
    return _dimension("project", tenant, business_unit=_business_unit(world, tenant))


@sample("allocation.feature")
def _feature(world, tenant):
    return _dimension("feature", tenant, project=_project(world, tenant))


@sample("allocation.environment")
def _environment(world, tenant):
    return _dimension("environment", tenant)


@sample("allocation.costcenter")
def _cost_center(world, tenant):
    return _dimension("cost_center", tenant, code="CC-1")


@sample("allocation.tagalias")
def _tag_alias(world, tenant):
    from allocation.services.tags import tag_alias_create

    n = next(_seq)
    return tag_alias_create(
        actor=None,
        tenant=tenant,
        kind="value",
        key="env",
        alias=f"production-{n}",
        canonical="prod",
    )


@sample("allocation.requiredtag")
def _required_tag(world, tenant):
    from allocation.services.tags import required_tag_create

    return required_tag_create(actor=None, tenant=tenant, key=f"owner-{next(_seq)}")


@sample("allocation.virtualtag")
def _virtual_tag(world, tenant):
    from allocation.services.tags import virtual_tag_create

    return virtual_tag_create(actor=None, tenant=tenant, key=f"team-{next(_seq)}")


@sample("allocation.tagrule")
def _tag_rule(world, tenant):
    from allocation.services.rules import tag_rule_create

    return tag_rule_create(
        actor=None,
        tenant=tenant,
        name=_name("rule"),
        conditions=[{"field": "service", "op": "in", "values": ["Compute Cloud"]}],
        project=_project(world, tenant),
    )


@sample("allocation.mappingrun")
def _mapping_run(world, tenant):
    from allocation.models import MappingRun

    return MappingRun.objects.create(
        tenant=tenant, trigger=MappingRun.Trigger.MANUAL, status=MappingRun.Status.SUCCEEDED
    )


@sample("allocation.allocationrule")
def _allocation_rule(world, tenant):
    from allocation.services.shared import allocation_rule_create

    return allocation_rule_create(
        actor=None,
        tenant=tenant,
        name=_name("Shared"),
        conditions=[{"field": "service", "op": "in", "values": ["Managed Kubernetes"]}],
        dimension="project",
        method="even",
        targets=[{"id": _project(world, tenant).pk}],
    )


@sample("allocation.allocationrun")
def _allocation_run(world, tenant):
    from allocation.models import AllocationRun

    return AllocationRun.objects.create(
        tenant=tenant,
        trigger=AllocationRun.Trigger.MANUAL,
        status=AllocationRun.Status.SUCCEEDED,
    )


@sample("allocation.allocatedcost")
def _allocated_cost(world, tenant):
    import datetime as dt
    from decimal import Decimal

    from allocation.models import AllocatedCost

    rule = _allocation_rule(world, tenant)
    project = rule.target_ids()[0]
    return AllocatedCost.objects.create(
        tenant=tenant,
        day=dt.date(2026, 1, 5),
        rule=rule,
        kind=AllocatedCost.Kind.SHARE,
        target_id=project,
        ratio=Decimal(1),
        basis=Decimal(1),
        billing_currency="RUB",
        provider_name="Yandex Cloud",
        service_name="Managed Kubernetes",
        x_project_id=project,
        billed_cost=Decimal("10.00"),
        effective_cost=Decimal("10.00"),
        list_cost=Decimal("10.00"),
        vat_amount=Decimal("1.80"),
    )


CREATE_PAYLOADS["businessunit"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Retail",
    "code": "BU-7",
    "owner": w.owner_b.pk,
}
CREATE_PAYLOADS["project"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Storefront",
    "business_unit": _business_unit(w, w.b).pk,
    "owner": w.owner_b.pk,
}
CREATE_PAYLOADS["feature"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Search",
    "project": _project(w, w.b).pk,
}
CREATE_PAYLOADS["environment"] = lambda w: {"tenant": w.b.pk, "name": "production"}
CREATE_PAYLOADS["costcenter"] = lambda w: {"tenant": w.b.pk, "name": "Sales", "code": "CC-42"}
CREATE_PAYLOADS["tagalias"] = lambda w: {
    "tenant": w.b.pk,
    "kind": "key",
    "alias": "Environment",
    "canonical": "env",
}
CREATE_PAYLOADS["requiredtag"] = lambda w: {"tenant": w.b.pk, "key": "cost-center"}
CREATE_PAYLOADS["virtualtag"] = lambda w: {"tenant": w.b.pk, "key": "squad"}
CREATE_PAYLOADS["tagrule"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Storage to storefront",
    "conditions": [{"field": "service", "op": "in", "values": ["Object Storage"]}],
    "project": _project(w, w.b).pk,
    "virtual_tag": _virtual_tag(w, w.b).pk,
    "virtual_tag_value": "storefront",
}
CREATE_PAYLOADS["mappingrun"] = lambda w: {"tenant": w.b.pk}
CREATE_PAYLOADS["allocationrule"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Support fee",
    "conditions": [{"field": "service", "op": "in", "values": ["Support"]}],
    "dimension": "project",
    "method": "fixed",
    "targets": [{"id": _project(w, w.b).pk, "percent": "100"}],
}
CREATE_PAYLOADS["allocationrun"] = lambda w: {"tenant": w.b.pk}


# --- services --------------------------------------------------------------------------------
@service_case("allocation.services.dimensions.dimension_create")
def _case_dimension_create(world):
    from allocation.services.dimensions import dimension_create

    return (
        world.owner_a,
        world.a,
        lambda actor: dimension_create(
            actor=actor, kind="business_unit", tenant=world.a, name="Retail", owner=world.owner_a
        ),
    )


@service_case("allocation.services.dimensions.dimension_update")
def _case_dimension_update(world):
    from allocation.services.dimensions import dimension_update

    project = _project(world, world.a)
    other = _business_unit(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: dimension_update(
            actor=actor, dimension=project, name="Renamed", business_unit=other
        ),
    )


@service_case("allocation.services.dimensions.dimension_delete")
def _case_dimension_delete(world):
    from allocation.services.dimensions import dimension_delete

    environment = _environment(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: dimension_delete(actor=actor, dimension=environment),
    )


@service_case("allocation.services.tags.tag_alias_create")
def _case_tag_alias_create(world):
    from allocation.services.tags import tag_alias_create

    return (
        world.owner_a,
        world.a,
        lambda actor: tag_alias_create(
            actor=actor, tenant=world.a, kind="key", alias="Environment", canonical="env"
        ),
    )


@service_case("allocation.services.tags.tag_alias_delete")
def _case_tag_alias_delete(world):
    from allocation.services.tags import tag_alias_delete

    alias = _tag_alias(world, world.a)
    return world.owner_a, world.a, lambda actor: tag_alias_delete(actor=actor, alias=alias)


@service_case("allocation.services.tags.required_tag_create")
def _case_required_tag_create(world):
    from allocation.services.tags import required_tag_create

    return (
        world.owner_a,
        world.a,
        lambda actor: required_tag_create(actor=actor, tenant=world.a, key="env"),
    )


@service_case("allocation.services.tags.required_tag_update")
def _case_required_tag_update(world):
    from allocation.services.tags import required_tag_update

    row = _required_tag(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: required_tag_update(actor=actor, required_tag=row, description="Why"),
    )


@service_case("allocation.services.tags.required_tag_delete")
def _case_required_tag_delete(world):
    from allocation.services.tags import required_tag_delete

    row = _required_tag(world, world.a)
    return world.owner_a, world.a, lambda actor: required_tag_delete(actor=actor, required_tag=row)


@service_case("allocation.services.tags.virtual_tag_create")
def _case_virtual_tag_create(world):
    from allocation.services.tags import virtual_tag_create

    return (
        world.owner_a,
        world.a,
        lambda actor: virtual_tag_create(actor=actor, tenant=world.a, key="team"),
    )


@service_case("allocation.services.tags.virtual_tag_update")
def _case_virtual_tag_update(world):
    from allocation.services.tags import virtual_tag_update

    row = _virtual_tag(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: virtual_tag_update(actor=actor, virtual_tag=row, key="squad"),
    )


@service_case("allocation.services.tags.virtual_tag_delete")
def _case_virtual_tag_delete(world):
    from allocation.services.tags import virtual_tag_delete

    row = _virtual_tag(world, world.a)
    return world.owner_a, world.a, lambda actor: virtual_tag_delete(actor=actor, virtual_tag=row)


@service_case("allocation.services.rules.tag_rule_create")
def _case_tag_rule_create(world):
    from allocation.services.rules import tag_rule_create

    project = _project(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: tag_rule_create(
            actor=actor,
            tenant=world.a,
            name="Web",
            conditions=[{"field": "tag", "key": "team", "op": "in", "values": ["web"]}],
            project=project,
        ),
    )


@service_case("allocation.services.rules.tag_rule_update")
def _case_tag_rule_update(world):
    from allocation.services.rules import tag_rule_update

    rule = _tag_rule(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: tag_rule_update(actor=actor, rule=rule, name="Renamed", enabled=False),
    )


@service_case("allocation.services.rules.tag_rule_delete")
def _case_tag_rule_delete(world):
    from allocation.services.rules import tag_rule_delete

    rule = _tag_rule(world, world.a)
    return world.owner_a, world.a, lambda actor: tag_rule_delete(actor=actor, rule=rule)


@service_case("allocation.services.runs.mapping_run_request")
def _case_mapping_run_request(world):
    from allocation.services.runs import mapping_run_request

    return world.owner_a, world.a, lambda actor: mapping_run_request(actor=actor, tenant=world.a)


@service_case("core.services.memberships.membership_scope_set")
def _case_membership_scope_set(world):
    from core.models import Membership
    from core.services.memberships import membership_scope_set

    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    project = _project(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: membership_scope_set(
            actor=actor, membership=membership, dimension_scope={"project": [project.pk]}
        ),
    )


@service_case("allocation.services.shared.allocation_rule_create")
def _case_allocation_rule_create(world):
    from allocation.services.shared import allocation_rule_create

    project = _project(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: allocation_rule_create(
            actor=actor,
            tenant=world.a,
            name="Cluster",
            conditions=[{"field": "service", "op": "in", "values": ["Managed Kubernetes"]}],
            method="direct_cost",
            targets=[{"id": project.pk}],
        ),
    )


@service_case("allocation.services.shared.allocation_rule_update")
def _case_allocation_rule_update(world):
    from allocation.services.shared import allocation_rule_update

    rule = _allocation_rule(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: allocation_rule_update(actor=actor, rule=rule, name="Renamed"),
    )


@service_case("allocation.services.shared.allocation_rule_delete")
def _case_allocation_rule_delete(world):
    from allocation.services.shared import allocation_rule_delete

    rule = _allocation_rule(world, world.a)
    return world.owner_a, world.a, lambda actor: allocation_rule_delete(actor=actor, rule=rule)


@service_case("allocation.services.shared.allocation_run_request")
def _case_allocation_run_request(world):
    from allocation.services.shared import allocation_run_request

    return (
        world.owner_a,
        world.a,
        lambda actor: allocation_run_request(actor=actor, tenant=world.a),
    )
