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


# --- unit economics --------------------------------------------------------------------------
@sample("allocation.businessmetric")
def _business_metric(world, tenant, **fields):
    from allocation.services.metrics import business_metric_create

    return business_metric_create(
        actor=None, tenant=tenant, name=_name("orders"), unit="order", **fields
    )


@sample("allocation.businessmetricvalue")
def _business_metric_value(world, tenant):
    from allocation.services.metrics import business_metric_points_upsert

    # Kept per project (another project than any member's limit): limited members see only
    # their projects' points.
    metric = _business_metric(world, tenant, dimension="project")
    project = _project(world, tenant)
    business_metric_points_upsert(
        actor=None,
        metric=metric,
        points=[{"date": "2026-01-05", "value": "10", "dimension_value": project.pk}],
    )
    return metric.values.get()


CREATE_PAYLOADS["businessmetric"] = lambda w: {
    "tenant": w.b.pk,
    "name": "Orders",
    "unit": "order",
    "dimension": "project",
    "pull_interval": 3600,
}


@service_case("allocation.services.metrics.business_metric_create")
def _case_business_metric_create(world):
    from allocation.services.metrics import business_metric_create

    return (
        world.owner_a,
        world.a,
        lambda actor: business_metric_create(
            actor=actor, tenant=world.a, name="Orders", unit="order"
        ),
    )


@service_case("allocation.services.metrics.business_metric_update")
def _case_business_metric_update(world):
    from allocation.services.metrics import business_metric_update

    metric = _business_metric(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: business_metric_update(actor=actor, metric=metric, unit="checkout"),
    )


@service_case("allocation.services.metrics.business_metric_delete")
def _case_business_metric_delete(world):
    from allocation.services.metrics import business_metric_delete

    metric = _business_metric(world, world.a)
    return world.owner_a, world.a, lambda actor: business_metric_delete(actor=actor, metric=metric)


@service_case("allocation.services.metrics.business_metric_points_upsert")
def _case_business_metric_points_upsert(world):
    from allocation.services.metrics import business_metric_points_upsert

    metric = _business_metric(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: business_metric_points_upsert(
            actor=actor, metric=metric, points=[{"date": "2026-01-01", "value": 5}]
        ),
    )


@service_case("allocation.services.metrics.business_metric_csv_import")
def _case_business_metric_csv_import(world):
    from allocation.services.metrics import business_metric_csv_import

    metric = _business_metric(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: business_metric_csv_import(
            actor=actor, metric=metric, content=b"date,value\n2026-01-01,5\n"
        ),
    )


@service_case("allocation.services.metrics.business_metric_pull")
def _case_business_metric_pull(world):
    from allocation.services.metrics import business_metric_pull
    from tests.allocation.metric_server import serve_json

    url = serve_json([{"date": "2026-01-01", "value": 3}])
    metric = _business_metric(world, world.a, pull_url=url)
    return world.owner_a, world.a, lambda actor: business_metric_pull(actor=actor, metric=metric)


# --- chargeback ------------------------------------------------------------------------------
_month_seq = iter(range(10**6))


def _next_month():
    """A fresh month per sample (one live invoice per tenant and month)."""
    import datetime as dt

    n = next(_month_seq)
    return dt.date(2020 + n // 12, n % 12 + 1, 1)


@sample("allocation.pricebook")
def _price_book(world, tenant):
    import datetime as dt
    from decimal import Decimal

    from allocation.models import PriceBook
    from allocation.services.billing import price_book_create

    # Books of one tenant may not overlap: each sample is valid for its own century-long span
    # after the last one.
    last = PriceBook.objects.filter(tenant=tenant).order_by("-valid_from").first()
    start = dt.date(2000, 1, 1) if last is None else last.valid_to + dt.timedelta(days=1)
    return price_book_create(
        actor=None,
        tenant=tenant,
        name=_name("book"),
        valid_from=start,
        valid_to=start.replace(year=start.year + 99),
        vat_rate=Decimal("0.22"),
        default_markup=Decimal("0.15"),
        email_to="billing@example.com",
    )


@sample("allocation.pricebookrule")
def _price_book_rule(world, tenant):
    from decimal import Decimal

    from allocation.services.billing import price_book_rule_create

    return price_book_rule_create(
        actor=None,
        price_book=_price_book(world, tenant),
        provider_name="Yandex Cloud",
        markup=Decimal("0.1"),
    )


@sample("allocation.pricebookcharge")
def _price_book_charge(world, tenant):
    from decimal import Decimal

    from allocation.services.billing import price_book_charge_create

    return price_book_charge_create(
        actor=None,
        price_book=_price_book(world, tenant),
        kind="fixed_fee",
        description="Support",
        amount=Decimal("1000.00"),
    )


def _charged_book_for(world, tenant, month):
    """The tenant's price book valid in ``month`` (made if none is), with a fixed fee, so an
    invoice of that month has a line."""
    from decimal import Decimal

    from allocation.models import PriceBook
    from allocation.services.billing import price_book_charge_create

    book = PriceBook.objects.filter(
        tenant=tenant, valid_from__lte=month, valid_to__gte=month
    ).first() or _price_book(world, tenant)
    if not book.charges.exists():
        price_book_charge_create(
            actor=None, price_book=book, kind="fixed_fee", description="Support", amount=Decimal(1)
        )
    return book


def _draft(world, tenant):
    from allocation.services.billing import invoice_generate

    month = _next_month()
    _charged_book_for(world, tenant, month)
    return invoice_generate(actor=None, tenant=tenant, period_start=month)


@sample("allocation.invoice")
def _invoice(world, tenant):
    """Issued: customers see issued invoices only (drafts are the MSP's)."""
    from allocation.services.billing import invoice_issue

    return invoice_issue(actor=None, invoice=_draft(world, tenant))


@sample("allocation.invoiceline")
def _invoice_line(world, tenant):
    return _invoice(world, tenant).lines.first()


def _book_payload(w):
    return {
        "tenant": w.b.pk,
        "name": "Beta terms",
        "valid_from": "1990-01-01",
        "valid_to": "1990-12-31",
        "vat_rate": "0.22",
        "default_markup": "0.15",
        "currency": "RUB",
    }


CREATE_PAYLOADS["pricebook"] = _book_payload
CREATE_PAYLOADS["pricebookrule"] = lambda w: {
    "price_book": _price_book(w, w.b).pk,
    "provider_name": "Selectel",
    "service_name": "Cloud servers",
    "markup": "0.2",
}
CREATE_PAYLOADS["pricebookcharge"] = lambda w: {
    "price_book": _price_book(w, w.b).pk,
    "kind": "custom",
    "description": "Migration project",
    "amount": "25000.00",
    "month": "2026-01-01",
}


def _invoice_payload(w):
    month = _next_month()
    _charged_book_for(w, w.b, month)
    return {"tenant": w.b.pk, "period_start": month.isoformat()}


CREATE_PAYLOADS["invoice"] = _invoice_payload


# Billing service cases act as an MSP operator of tenant A: no customer role has
# ``manage_billing``.
@service_case("allocation.services.billing.price_book_create")
def _case_price_book_create(world):
    import datetime as dt
    from decimal import Decimal

    from allocation.services.billing import price_book_create

    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_create(
            actor=actor,
            tenant=world.a,
            name="Terms",
            valid_from=dt.date(1990, 1, 1),
            valid_to=dt.date(1990, 12, 31),
            vat_rate=Decimal("0.22"),
        ),
    )


@service_case("allocation.services.billing.price_book_update")
def _case_price_book_update(world):
    from decimal import Decimal

    from allocation.services.billing import price_book_update

    book = _price_book(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_update(
            actor=actor, price_book=book, default_markup=Decimal("0.2")
        ),
    )


@service_case("allocation.services.billing.price_book_delete")
def _case_price_book_delete(world):
    from allocation.services.billing import price_book_delete

    book = _price_book(world, world.a)
    return world.operator_a, world.a, lambda actor: price_book_delete(actor=actor, price_book=book)


@service_case("allocation.services.billing.price_book_rule_create")
def _case_price_book_rule_create(world):
    from decimal import Decimal

    from allocation.services.billing import price_book_rule_create

    book = _price_book(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_rule_create(
            actor=actor, price_book=book, provider_name="VK Cloud", markup=Decimal("0.1")
        ),
    )


@service_case("allocation.services.billing.price_book_rule_update")
def _case_price_book_rule_update(world):
    from decimal import Decimal

    from allocation.services.billing import price_book_rule_update

    rule = _price_book_rule(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_rule_update(actor=actor, rule=rule, markup=Decimal("0.3")),
    )


@service_case("allocation.services.billing.price_book_rule_delete")
def _case_price_book_rule_delete(world):
    from allocation.services.billing import price_book_rule_delete

    rule = _price_book_rule(world, world.a)
    return world.operator_a, world.a, lambda actor: price_book_rule_delete(actor=actor, rule=rule)


@service_case("allocation.services.billing.price_book_charge_create")
def _case_price_book_charge_create(world):
    from decimal import Decimal

    from allocation.services.billing import price_book_charge_create

    book = _price_book(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_charge_create(
            actor=actor,
            price_book=book,
            kind="fixed_fee",
            description="Fee",
            amount=Decimal("10.00"),
        ),
    )


@service_case("allocation.services.billing.price_book_charge_update")
def _case_price_book_charge_update(world):
    from decimal import Decimal

    from allocation.services.billing import price_book_charge_update

    charge = _price_book_charge(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_charge_update(actor=actor, charge=charge, amount=Decimal("20.00")),
    )


@service_case("allocation.services.billing.price_book_charge_delete")
def _case_price_book_charge_delete(world):
    from allocation.services.billing import price_book_charge_delete

    charge = _price_book_charge(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: price_book_charge_delete(actor=actor, charge=charge),
    )


@service_case("allocation.services.billing.invoice_generate")
def _case_invoice_generate(world):
    from allocation.services.billing import invoice_generate

    month = _next_month()
    _charged_book_for(world, world.a, month)
    return (
        world.operator_a,
        world.a,
        lambda actor: invoice_generate(actor=actor, tenant=world.a, period_start=month),
    )


@service_case("allocation.services.billing.invoice_issue")
def _case_invoice_issue(world):
    from allocation.services.billing import invoice_issue

    invoice = _draft(world, world.a)
    return world.operator_a, world.a, lambda actor: invoice_issue(actor=actor, invoice=invoice)


@service_case("allocation.services.billing.invoice_reissue")
def _case_invoice_reissue(world):
    from allocation.services.billing import invoice_reissue

    invoice = _invoice(world, world.a)
    return (
        world.operator_a,
        world.a,
        lambda actor: invoice_reissue(actor=actor, invoice=invoice, reason="correction"),
    )


@service_case("allocation.services.billing.invoice_delete")
def _case_invoice_delete(world):
    from allocation.services.billing import invoice_delete

    invoice = _draft(world, world.a)
    return world.operator_a, world.a, lambda actor: invoice_delete(actor=actor, invoice=invoice)


@service_case("allocation.services.billing.invoice_email")
def _case_invoice_email(world):
    from allocation.services.billing import invoice_email

    invoice = _invoice(world, world.a)
    return world.operator_a, world.a, lambda actor: invoice_email(actor=actor, invoice=invoice)
