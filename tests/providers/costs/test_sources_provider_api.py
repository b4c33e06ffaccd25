"""Costs from a provider's cost API: a provider-neutral adapter reads them over real HTTP from a
small local server, and the pull loads them through the one cost loader (hooks, VAT, resource
links, rollups), month by month, re-reading recent days; estimates are flagged and kept apart."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from providers.adapters.base import (
    CostPeriod,
    CostRecord,
    ProviderAdapter,
    ResourceRecord,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.simulation import SimulatedError, SimulatorServer
from providers.costs import hooks
from providers.costs.query import EXCLUDE, INCLUDE, ONLY, CostQuery, run_cost_query
from providers.models import CostDailySummary, CostLineItem, CostSource, ImportRun
from providers.services.cost_api import month_chunks, pull_days
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_create
from tests.factories import ConnectionFactory, resource_row

pytestmark = pytest.mark.django_db

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
TOKEN = "cost-api-token-123456"


class CostApi(SimulatorServer):
    """A provider cost API: one row per resource and MSK day, in kopecks, as Selectel's billing
    statistics report them; ``scale`` revises every amount (a provider correcting its data)."""

    def __init__(self):
        super().__init__()
        self.scale = 1
        self.asked: list[tuple[str, str]] = []
        self.stray = False  # answer a row outside the period asked for

    def rows(self, start: dt.datetime, end: dt.datetime) -> list[dict]:
        rows = []
        day = start.astimezone(MSK).date()
        while True:
            begins = dt.datetime.combine(day, dt.time.min, tzinfo=MSK)
            if begins >= end:
                return rows
            if begins >= start:
                for resource, base in (("vm-1", 10_000), ("vol-1", 1_050)):
                    rows.append(
                        {
                            "period": begins.isoformat(),
                            "object": resource,
                            "project": "p1",
                            "value": (base + day.day) * self.scale,
                            "metric": "compute_cores" if resource == "vm-1" else "volume_gb",
                        }
                    )
            day += dt.timedelta(days=1)

    def route(self, request):
        if request.header("X-Token") != TOKEN:
            raise SimulatedError(401, "invalid token")
        start, end = request.query["start"], request.query["end"]
        self.asked.append((start, end))
        rows = self.rows(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
        if self.stray:
            rows.append({**rows[0], "period": "2001-01-01T00:00:00+03:00"})
        return {"status": "success", "data": rows}

    def expected(self, first: dt.date, last: dt.date) -> Decimal:
        start = dt.datetime.combine(first, dt.time.min, tzinfo=MSK)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=MSK)
        return sum((Decimal(r["value"]) / 100 for r in self.rows(start, end)), Decimal(0))


class HttpCostAdapter(ProviderAdapter):
    """The smallest adapter with a cost API: kopecks in, CostRecords out."""

    provider = "Selectel"
    cost_extensions = ("x_metric",)

    def __init__(self, url: str, token: str = TOKEN, *, estimates: bool = False):
        self.url, self.token, self.cost_estimates = url, token, estimates
        self.http = HttpClient(provider="Selectel", sleep=lambda s: None, max_attempts=2)
        self.http.add_secrets([token])

    @property
    def api_calls(self) -> int:
        return self.http.api_calls

    def verify(self) -> VerifyResult:
        return VerifyResult("ok")

    def _discover(self) -> Iterator[ResourceRecord]:
        return iter(())

    def _metrics(self, targets, window):
        return iter(())

    def costs(self, period: CostPeriod) -> Iterator[CostRecord]:
        body = self.http.request_json(
            "GET",
            f"{self.url}/v1/cloud_billing/statistic/consumption",
            params={"start": period.start.isoformat(), "end": period.end.isoformat()},
            headers={"X-Token": self.token},
        )
        for row in body["data"]:
            start = dt.datetime.fromisoformat(row["period"])
            yield CostRecord(
                charge_period_start=start,
                charge_period_end=start + dt.timedelta(days=1),
                billed_cost=Decimal(row["value"]) / 100,
                billing_currency="RUB",
                service_name="Cloud servers",
                resource_id=row["object"],
                sub_account_id=row["project"],
                extensions={"x_metric": row["metric"]},
            )


@pytest.fixture(autouse=True)
def vat_rules(db):
    from providers.models import VatRule

    for valid_from, rate in ((dt.date(2019, 1, 1), "0.2000"), (dt.date(2026, 1, 1), "0.2200")):
        VatRule.objects.get_or_create(
            provider_name="Selectel",
            currency="RUB",
            valid_from=valid_from,
            defaults={"rate": Decimal(rate), "included_in_price": True},
        )


@pytest.fixture
def api():
    with CostApi() as server:
        yield server


@pytest.fixture
def loaded_hook():
    calls = []

    def hook(cursor, rows):
        cursor.execute(
            "SELECT count(*) FROM providers_costlineitem WHERE x_import_run_id = %s",
            [rows.import_run_id],
        )
        calls.append((rows.import_run_id, cursor.fetchone()[0]))

    hooks.register_after_rows_loaded(hook)
    yield calls
    hooks._after_rows_loaded.remove(hook)


def _source(world, *, name="Selectel costs", connection=None, **extra):
    connection = connection or ConnectionFactory(
        tenant=world.a, provider="selectel", name=f"{name} conn"
    )
    return cost_source_create(
        actor=world.owner_a,
        tenant=world.a,
        kind=CostSource.Kind.PROVIDER_API,
        name=name,
        connection=connection,
        start_pull=False,
        **extra,
    )


def _pull(source, adapter):
    return cost_source_pull(
        source_id=source.pk, trigger="manual", adapter_factory=lambda c: adapter
    )


def _today() -> dt.date:
    return dt.datetime.now(MSK).date()


def _total(source, **filters) -> Decimal:
    items = CostLineItem.objects.filter(x_source_key=source.source_key, **filters)
    return items.aggregate(s=Sum("billed_cost"))["s"] or Decimal(0)


# --- the pull --------------------------------------------------------------------------------
def test_a_pull_loads_each_month_since_last_month_through_the_loader(world, api, loaded_hook):
    source = _source(world)
    vm = resource_row(source.connection, 1, provider_id="vm-1")

    result = _pull(source, HttpCostAdapter(api.url))

    today = _today()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert result.status == "succeeded", result.error
    assert result.imported == len(month_chunks(first, today)) == 2
    runs = ImportRun.objects.filter(source_key=source.source_key).order_by("period_start")
    assert [r.source for r in runs] == [ImportRun.Source.PROVIDER_API] * 2
    assert [r.status for r in runs] == [ImportRun.Status.SUCCEEDED] * 2
    assert runs[0].file_name == f"{first}..{(today.replace(day=1) - dt.timedelta(days=1))}"
    assert sum(r.rows_loaded for r in runs) == CostLineItem.objects.count()
    assert _total(source) == api.expected(first, today)
    # The loader's own steps ran: hooks inside the transaction, VAT by provider name, links.
    assert sorted(loaded_hook) == sorted((r.pk, r.rows_loaded) for r in runs)
    item = CostLineItem.objects.filter(resource_id="vm-1").first()
    assert item.provider_name == "Selectel" and item.invoice_issuer_name == "Selectel"
    assert item.x_vat_rate is not None and item.x_vat_amount is not None
    assert item.x_resource_id == vm.pk and item.x_connection_id == source.connection_id
    assert item.x_extensions == {"x_metric": "compute_cores"}
    assert not item.x_estimated
    summary = CostDailySummary.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))
    assert summary["s"] == api.expected(first, today)
    source.refresh_from_db()
    assert source.pulled_through == today
    assert (source.status, source.last_error) == (CostSource.Status.OK, "")


def test_the_next_pull_rereads_only_recent_days_and_replaces_them(world, api):
    source = _source(world, lookback_days=2)
    adapter = HttpCostAdapter(api.url)
    _pull(source, adapter)
    before = _total(source)
    api.asked.clear()
    api.scale = 3  # the provider revised its figures

    result = _pull(source, adapter)

    today = _today()
    reread_from = today - dt.timedelta(days=2)
    assert result.status == "succeeded"
    asked = [dt.datetime.fromisoformat(start).astimezone(MSK).date() for start, _ in api.asked]
    assert asked[0] == reread_from
    old_part = api.expected(reread_from, today)  # at scale 3 now
    assert _total(source) == before - old_part / 3 + old_part


def test_pull_days_follow_the_source_settings():
    today = dt.date(2026, 3, 15)
    source = CostSource(lookback_days=3)
    assert pull_days(source, today) == (dt.date(2026, 2, 1), today)
    source.pulled_through = dt.date(2026, 3, 10)
    assert pull_days(source, today) == (dt.date(2026, 3, 7), today)
    source.start_date = dt.date(2026, 3, 9)
    assert pull_days(source, today) == (dt.date(2026, 3, 9), today)
    assert month_chunks(dt.date(2026, 1, 30), dt.date(2026, 3, 2)) == [
        (dt.date(2026, 1, 30), dt.date(2026, 1, 31)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 2)),
    ]


def test_a_failing_api_keeps_what_was_loaded_and_says_why(world, api):
    source = _source(world)
    adapter = HttpCostAdapter(api.url)
    _pull(source, adapter)
    kept = (CostLineItem.objects.count(), _total(source))
    api.inject("unavailable", status=503, times=0)

    result = _pull(source, adapter)

    assert result.status == "failed" and result.failed == 1
    assert (CostLineItem.objects.count(), _total(source)) == kept
    run = ImportRun.objects.filter(status=ImportRun.Status.FAILED).get()
    assert "HTTP 503" in run.error and "gave up after 2 attempts" in run.error
    source.refresh_from_db()
    assert source.status == CostSource.Status.ERROR and "HTTP 503" in source.last_error
    assert source.pulled_through == _today()  # unchanged: the next pull starts there again


def test_refused_credentials_mark_the_source_and_never_leak(world, api):
    source = _source(world)

    result = _pull(source, HttpCostAdapter(api.url, token="wrong-token-987654"))

    assert result.status == "failed"
    source.refresh_from_db()
    assert source.status == CostSource.Status.AUTH_FAILED
    assert "HTTP 401" in source.last_error and "wrong-token-987654" not in source.last_error
    assert not CostLineItem.objects.exists()


def test_records_outside_the_period_asked_for_fail_the_import(world, api):
    source = _source(world)
    api.stray = True

    result = _pull(source, HttpCostAdapter(api.url))

    assert result.status == "failed"
    run = ImportRun.objects.get(status=ImportRun.Status.FAILED)
    assert "outside the period asked for" in run.error
    assert not CostLineItem.objects.exists()  # nothing of the month was loaded


def test_a_provider_without_an_adapter_fails_the_pull_with_the_reason(world):
    # Beget declares a cost API but has no adapter on this branch yet.
    connection = ConnectionFactory(tenant=world.a, provider="beget", name="Hosting")
    source = _source(world, connection=connection)

    result = cost_source_pull(source_id=source.pk, trigger="manual")

    assert result.status == "failed"
    assert "No adapter for Beget yet" in result.error


def test_only_providers_declaring_a_cost_api_take_api_sources(world):
    from django.core.exceptions import ValidationError

    # Yandex Cloud's costs come from its bucket export; VK Cloud's estimates are pulled too.
    yandex = ConnectionFactory(tenant=world.a, provider="yandex_cloud", name="YC")
    with pytest.raises(ValidationError) as caught:
        cost_source_create(
            actor=world.owner_a,
            tenant=world.a,
            kind=CostSource.Kind.PROVIDER_API,
            name="YC costs",
            connection=yandex,
            start_pull=False,
        )
    assert caught.value.message_dict["connection"] == ["Yandex Cloud has no cost API."]
    with pytest.raises(ValidationError) as caught:
        _source(world, credentials={"access_key_id": "a", "secret_access_key": "b"})
    assert "credentials" in caught.value.message_dict


# --- estimates -------------------------------------------------------------------------------
def test_estimates_are_flagged_kept_apart_and_labelled(world, api, api_as):
    billed = _source(world, name="Billed")
    estimated = _source(world, name="Estimated")
    _pull(billed, HttpCostAdapter(api.url))
    _pull(estimated, HttpCostAdapter(api.url, estimates=True))
    today = _today()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    amount = api.expected(first, today)
    assert CostLineItem.objects.filter(x_estimated=True).count() == (
        CostLineItem.objects.filter(x_source_key=estimated.source_key).count()
    )
    assert CostDailySummary.objects.filter(x_estimated=True).exists()

    def query(mode, group_by=()):
        return run_cost_query(
            CostQuery(
                tenant=world.a,
                start=first - dt.timedelta(days=1),
                end=today + dt.timedelta(days=1),
                estimates=mode,
                group_by=group_by,
                amounts="gross",
                currency="RUB",
            )
        )

    assert query(EXCLUDE).totals["billed_cost"] == amount  # the default: billed only
    assert query(EXCLUDE).estimated_totals["billed_cost"] == amount  # ...and said apart
    assert query(INCLUDE).totals["billed_cost"] == 2 * amount
    assert query(ONLY).totals["billed_cost"] == amount
    by_kind = {row["estimated"]: row["billed_cost"] for row in query(INCLUDE, ["estimated"]).rows}
    assert by_kind == {False: amount, True: amount}

    client = api_as(world.owner_a)
    answer = client.get(reverse("api:cost-query"), {"tenant": world.a.pk}).json()
    assert answer["estimates"] == "exclude"
    assert "estimated_totals" in answer
    wrong = client.get(reverse("api:cost-query"), {"tenant": world.a.pk, "estimates": "all"})
    assert wrong.status_code == 400 and "estimates" in wrong.json()


def test_focus_exports_hold_billed_costs_only(world, api):
    from providers.costs import export

    estimated = _source(world, name="Estimated")
    _pull(estimated, HttpCostAdapter(api.url, estimates=True))
    today = _today()
    start, end = export.parse_period(f"{today:%Y-%m}")

    plan = export.export_plan(world.a.pk, start, end)

    assert CostLineItem.objects.filter(x_estimated=True).exists()
    assert plan.rows == 0
    assert list(export.export_rows(plan)) == []


def test_the_portal_labels_estimates_and_leaves_them_out_unless_asked(world, api, client):
    estimated = _source(world, name="Estimated")
    _pull(estimated, HttpCostAdapter(api.url, estimates=True))
    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")
    month = f"{_today():%Y-%m}"

    page = client.get(reverse("portal:costs"), {"month": month}, HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.context["result"].totals["billed_cost"] == 0
    assert "is estimated" in html and "not included" in html
    assert "estimates=include" in html

    included = client.get(
        reverse("portal:costs"), {"month": month, "estimates": "include"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert included.context["result"].totals["billed_cost"] > 0
    assert ">estimate</span>" in included.content.decode()


def test_random_amounts_survive_the_text_round_trip(world, api):
    """Decimals go to COPY as exact text: no float on the way."""
    rng = random.Random(4)
    amounts = [Decimal(rng.randrange(1, 10**9)) / Decimal(10**7) for _ in range(20)]
    day = dt.datetime.combine(_today(), dt.time.min, tzinfo=MSK)

    class Exact(HttpCostAdapter):
        def costs(self, period):
            if day not in period:
                return
            for n, amount in enumerate(amounts):
                yield CostRecord(
                    charge_period_start=day,
                    charge_period_end=day + dt.timedelta(days=1),
                    billed_cost=amount,
                    billing_currency="rub",
                    resource_id=f"r{n}",
                )

    source = _source(world)
    _pull(source, Exact(api.url))

    assert _total(source) == sum(amounts)
    assert set(CostLineItem.objects.values_list("billing_currency", flat=True)) == {"RUB"}
