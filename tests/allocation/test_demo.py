"""The allocation demo on the simulator's real billing data: teams map to projects, the untagged
resources of folder-2 are caught by a virtual tag, and the project lead sees only Web shop."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from allocation.models import Project, VirtualTag
from core.models import Tenant
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.adapters.yandex.simulator_billing import LABEL
from providers.demo_steps import COST_SOURCE_NAME
from providers.models import CostLineItem, CostSource
from providers.services.cost_source_pulls import cost_source_pull
from providers.tasks import connection_sync_task


@pytest.fixture
def sim():
    with YandexCloudSimulator(SimulatorConfig(seed=11, folders=2, resources_per_folder=30)) as s:
        s.billing.days = 1
        yield s


def test_the_demo_allocates_romashkas_simulated_costs(
    db, sim, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.contrib.auth import get_user_model

    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: None)
    settings.YANDEX_SIMULATOR_URL = sim.url
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "seed_demo", "--credentials-file", str(tmp_path / "c.json"), stdout=io.StringIO()
        )
    romashka = Tenant.objects.get(slug="romashka")
    source = CostSource.objects.get(tenant=romashka, name=COST_SOURCE_NAME)

    assert cost_source_pull(source_id=source.pk).status == "succeeded"

    rows = sim.billing.file(sim.billing.dates()[-1]).rows
    items = CostLineItem.objects.filter(tenant=romashka)
    team = VirtualTag.objects.get(tenant=romashka, key="team")
    caught = [r for r in rows if r["folder_name"] == "folder-2" and not r.get(LABEL + "team")]
    assert caught
    platform = items.filter(x_virtual_tags__contains={str(team.pk): "platform"})
    assert platform.count() == len(caught)
    assert platform.aggregate(s=Sum("billed_cost"))["s"] == sum(
        (Decimal(r["cost"]) + Decimal(r["credit"]) for r in caught), Decimal(0)
    )
    web = Project.objects.get(tenant=romashka, name="Web shop")
    web_rows = [r for r in rows if r.get(LABEL + "team") == "web"]
    assert items.filter(x_project_id=web.pk).count() == len(web_rows) > 0

    lead = get_user_model().objects.get(username="romashka-lead")
    seen = CostLineItem.objects.for_user(lead, "view")
    assert seen.count() == len(web_rows)
    assert set(seen.values_list("x_project_id", flat=True)) == {web.pk}

    # Shared costs: the cluster and the support plan split over the three projects by their
    # direct cost, each day; shares + unallocated = pooled exactly.
    from allocation.models import AllocatedCost, AllocationRule

    day = sim.billing.dates()[-1]
    results = AllocatedCost.objects.filter(tenant=romashka, day=day)
    projects = {p.pk: p for p in Project.objects.filter(tenant=romashka)}
    for rule in AllocationRule.objects.filter(tenant=romashka):
        pooled = -(results.filter(rule=rule, kind="pool").aggregate(s=Sum("billed_cost"))["s"] or 0)
        split = results.filter(rule=rule).exclude(kind="pool").aggregate(s=Sum("billed_cost"))["s"]
        split = split or 0
        assert split == pooled
    support = AllocationRule.objects.get(tenant=romashka, name="Technical support plan")
    shares = dict(
        results.filter(rule=support, kind="share").values_list("target_id", "billed_cost")
    )
    assert set(shares) <= set(projects) and len(shares) >= 2
    assert sum(shares.values()) + results.get(rule=support, kind="unallocated").billed_cost == (
        Decimal("16.13")
    )
    direct = dict(
        items.filter(x_project_id__in=list(shares))
        .values_list("x_project_id")
        .annotate(s=Sum("billed_cost"))
        .values_list("x_project_id", "s")
    )
    biggest = max(direct, key=direct.get)
    assert shares[biggest] == max(shares.values())  # in proportion to direct cost

    # Chargeback: the month's invoice is provider cost (net of VAT) + 15% and the fixed fee.
    import datetime as dt

    from allocation.demo_steps import FIXED_FEE, ORDERS
    from allocation.models import BusinessMetric
    from allocation.selectors import unit_costs
    from allocation.services.billing import invoice_generate

    day = dt.date.fromisoformat(str(sim.billing.dates()[-1])[:10])
    invoice = invoice_generate(actor=None, tenant=romashka, period_start=day.replace(day=1))
    usage = invoice.lines.filter(kind="usage")
    fee = invoice.lines.get(kind="fixed_fee")
    assert usage.exists() and fee.description == FIXED_FEE[0]
    assert fee.amount == Decimal(FIXED_FEE[1]) == fee.margin
    for line in usage:
        assert abs(line.amount - line.provider_cost * Decimal("1.15")) <= Decimal("0.01")
    assert invoice.provider_cost + invoice.margin == invoice.net_amount
    assert invoice.net_amount + invoice.vat_amount == invoice.total_amount

    # Unit economics: cost per order on the day the simulator billed.
    orders = BusinessMetric.objects.get(tenant=romashka, name=ORDERS)
    report = unit_costs(
        user=None, tenant=romashka, metric=orders, start=day, end=day, granularity="day"
    )
    (total,) = report.totals
    assert total.units > 0 and total.cost > 0
    assert total.cost_per_unit == (total.cost / total.units).quantize(Decimal("0.000001"))
