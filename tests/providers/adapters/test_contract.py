"""The provider-neutral contract: records, errors, the HTTP helper and endpoint configuration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from providers.adapters.base import (
    ProviderAdapter,
    ProviderAuthError,
    ProviderResponseError,
    ResourceRecord,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.yandex import YandexEndpoints, credentials_from_mapping


def _record(**changes) -> ResourceRecord:
    base = {
        "provider_id": "fhm1",
        "type": "vm",
        "name": "api-1",
        "zone": "ru-central1-a",
        "status": "running",
        "specs": {"vcpu": 2, "memory_bytes": 4 << 30},
        "labels": {"team": "core", "env": "prod"},
        "related_ids": {"disks": ("d1", "d2")},
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return ResourceRecord(**{**base, **changes})


def test_content_hash_ignores_key_order_and_sequence_type():
    a = _record()
    b = _record(labels={"env": "prod", "team": "core"}, related_ids={"disks": ["d1", "d2"]})

    assert a.content_hash == b.content_hash
    assert len(a.content_hash) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"name": "api-2"},
        {"status": "stopped"},
        {"labels": {"team": "core"}},
        {"specs": {"vcpu": 4}},
    ],
)
def test_content_hash_changes_with_content(change):
    assert _record().content_hash != _record(**change).content_hash


def test_content_hash_is_stable_across_releases():
    """Stored hashes are compared with new listings: a change in how the hash is computed would
    make every resource of every connection look changed (a write storm on the next sync)."""
    record = ResourceRecord(
        provider_id="fhm1",
        type="vm",
        name="api-1",
        zone="ru-central1-a",
        region="ru-central1",
        status="running",
        raw_status="RUNNING",
        specs={"vcpu": 2, "memory_bytes": 4 << 30, "core_fraction": 20},
        labels={"team": "core", "env": "prod"},
        properties={"platform_id": "standard-v3"},
        related_ids={"disks": ("d1", "d2")},
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        sub_account="b1gfolder",
    )

    assert record.content_hash == (
        "a3db9f225bff90e8bf8ce19a189bdc5c11fe34fbb1a1e4b5a0160706ee33b914"
    )


def test_specs_keep_strings_where_the_provider_has_text():
    domain = _record(type="domain", specs={"expires_on": "2026-10-24", "auto_renew": 0})

    assert domain.to_dict()["specs"] == {"expires_on": "2026-10-24", "auto_renew": 0}
    assert domain.content_hash != _record(type="domain", specs={"expires_on": "2027-10-24"})


@pytest.mark.parametrize("value", [1.5, True, None, {"nested": 1}, [1]])
def test_specs_refuse_anything_but_ints_and_strings(value):
    with pytest.raises(TypeError, match="must be an int or a str"):
        _record(specs={"vcpu": value})


class _FloatSpecs(ProviderAdapter):
    provider = "Test"
    api_calls = 0

    def verify(self) -> VerifyResult:
        return VerifyResult("ok")

    def _discover(self) -> Iterator[ResourceRecord]:
        yield _record(specs={"memory_gb": 0.5})

    def _metrics(self, targets, window):
        return iter(())


def test_a_float_spec_from_provider_data_surfaces_as_a_response_error():
    with pytest.raises(ProviderResponseError, match="memory_gb"):
        list(_FloatSpecs().discover())


def test_balances_and_cost_periods_refuse_floats_and_naive_times():
    from decimal import Decimal

    from providers.adapters.base import BalanceRecord, CostPeriod

    now = datetime(2026, 2, 14, tzinfo=UTC)
    with pytest.raises(TypeError, match="Decimal"):
        BalanceRecord(amount=12.5, currency="RUB", as_of=now)
    with pytest.raises(ValueError, match="timezone-aware"):
        BalanceRecord(amount=Decimal("12.5"), currency="RUB", as_of=now.replace(tzinfo=None))
    with pytest.raises(ValueError, match="after start"):
        CostPeriod(now, now)
    period = CostPeriod(now, datetime(2026, 2, 15, tzinfo=UTC))
    assert now in period and datetime(2026, 2, 15, tzinfo=UTC) not in period


@pytest.mark.parametrize("method", ["balances", "operations", "refresh"])
def test_optional_capabilities_are_not_implemented_by_default(method):
    adapter = _FloatSpecs()
    call = {
        "balances": lambda: adapter.balances(),
        "operations": lambda: adapter.operations(None),
        "refresh": lambda: adapter.refresh("fhm1"),
    }[method]

    with pytest.raises(NotImplementedError, match="Test"):
        call()


def test_records_are_hashable_by_content():
    assert len({_record(), _record(labels={"env": "prod", "team": "core"})}) == 1


def test_to_dict_is_plain_data():
    data = _record().to_dict()

    assert data["related_ids"] == {"disks": ["d1", "d2"]}
    assert data["content_hash"] == _record().content_hash


class _BrokenShapes(ProviderAdapter):
    """A minimal adapter whose provider data lacks a field the mapping needs."""

    provider = "Test"
    api_calls = 0

    def verify(self) -> VerifyResult:
        return VerifyResult("ok")

    def _discover(self) -> Iterator[ResourceRecord]:
        yield _record()
        yield {}["id"]

    def _metrics(self, targets, window):
        return iter(())


def test_shape_errors_in_provider_data_surface_as_response_errors():
    records = _BrokenShapes().discover()

    assert next(records).provider_id == "fhm1"
    with pytest.raises(ProviderResponseError, match="unexpected data"):
        next(records)


def test_costs_are_not_part_of_discovery_adapters():
    with pytest.raises(NotImplementedError):
        _BrokenShapes().costs("2026-01")


def test_http_client_redacts_known_secrets():
    client = HttpClient(provider="Test")
    client.add_secrets(["s3cr3t-token", None, "abc"])

    assert client.redact("token s3cr3t-token refused") == "token [redacted] refused"
    assert (
        client.redact("abc stays: too short to be a secret")
        == "abc stays: too short to be a secret"
    )


def test_errors_keep_their_type_when_annotated():
    error = ProviderAuthError("refused", status=401).annotate("after refresh")

    assert isinstance(error, ProviderAuthError) and str(error) == "refused (after refresh)"


def test_endpoints_accept_overrides_per_service_or_all_at_once():
    endpoints = YandexEndpoints.from_mapping({"*": "http://sim:1/", "monitoring": "http://mon:2"})

    assert endpoints.compute == "http://sim:1"
    assert endpoints.monitoring == "http://mon:2"
    assert endpoints.iam_tokens_url == "http://sim:1/iam/v1/tokens"
    assert YandexEndpoints().compute == "https://compute.api.cloud.yandex.net"
    with pytest.raises(ValueError, match="unknown"):
        YandexEndpoints.from_mapping({"computer": "http://x"})


def test_credentials_are_validated_and_never_repr_their_secret():
    oauth = credentials_from_mapping({"oauth_token": "y0_secret"})
    key = credentials_from_mapping({"id": "k", "service_account_id": "sa", "private_key": "PEM"})

    assert "y0_secret" not in repr(oauth) and "PEM" not in repr(key)
    with pytest.raises(ValueError, match="private_key"):
        credentials_from_mapping({"id": "k", "service_account_id": "sa"})


# --- per-unit listing outcomes (the contract every adapter follows) ---------------------------
class _Projects(ProviderAdapter):
    """A provider with projects as scopes and two services, as Selectel or VK Cloud would be."""

    provider = "Test"
    api_calls = 0
    scope_noun = "project"

    def __init__(self, failures: dict[tuple[str, str], Exception]):
        from providers.adapters.listing import ServiceInfo

        self.failures = failures
        self.services = {"vms": ServiceInfo("Servers", "vms.reader"), "s3": ServiceInfo("S3")}

    def verify(self) -> VerifyResult:
        return VerifyResult("ok")

    def _discover(self) -> Iterator[ResourceRecord]:
        report = self.listing
        report.scopes_complete = True
        for project in ("p1", "p2"):
            report.visit(project)
            for service, type_ in (("vms", "vm"), ("s3", "bucket")):
                with report.unit(service, (type_,), project):
                    yield _record(provider_id=f"{project}-{type_}", type=type_, sub_account=project)
                    failure = self.failures.get((service, project))
                    if failure is not None:
                        raise failure

    def _metrics(self, targets, window):
        return iter(())


def test_a_denied_unit_is_skipped_and_reported_in_words():
    from providers.adapters.base import ProviderPermissionDenied

    adapter = _Projects({("vms", "p1"): ProviderPermissionDenied("no", status=403)})

    found = [r.provider_id for r in adapter.discover()]

    assert found == ["p1-vm", "p1-bucket", "p2-vm", "p2-bucket"]  # what was listed is kept
    report = adapter.listing
    assert report.finished and not report.fully_complete
    assert not report.may_delete("vm", "p1") and report.may_delete("vm", "p2")
    assert report.may_delete("bucket", "p1")
    assert report.may_delete("vm", "p-gone")  # a project no longer there, after a full walk
    assert not report.may_delete("load_balancer", "p1")  # a type this adapter never lists
    assert report.warnings()[0]["message"] == (
        "cannot read Servers in project p1: permission denied — grant vms.reader"
    )


def test_a_unit_that_is_absent_is_reported_as_absent():
    from providers.adapters.base import ProviderResponseError as Missing

    adapter = _Projects({("s3", "p2"): Missing("404", status=404)})

    list(adapter.discover())

    assert adapter.listing.type_outcomes() == {"bucket": "absent", "vm": "complete"}
    assert adapter.listing.warnings()[0]["message"] == (
        "cannot read S3 in project p2: not available in this installation or region"
    )


def test_any_other_error_ends_the_walk_and_keeps_the_rest():
    from providers.adapters.base import ProviderUnavailable

    adapter = _Projects({("s3", "p1"): ProviderUnavailable("down", status=503)})

    with pytest.raises(ProviderUnavailable):
        list(adapter.discover())

    report = adapter.listing
    assert not report.finished
    assert report.may_delete("vm", "p1")  # completed before the failure
    assert not report.may_delete("bucket", "p1")  # the failed unit
    assert not report.may_delete("vm", "p2")  # never reached
    assert not report.may_delete("vm", "p-gone")  # the walk did not finish


def test_refused_credentials_are_not_a_unit_outcome():
    adapter = _Projects({("vms", "p1"): ProviderAuthError("401", status=401)})

    with pytest.raises(ProviderAuthError):
        list(adapter.discover())


def test_an_adapter_that_records_no_units_is_judged_as_one_listing():
    from providers.adapters.listing import ListingReport

    assert ListingReport(finished=True).may_delete("vm", "anything")
    assert not ListingReport(finished=False).may_delete("vm", "anything")
    assert ListingReport(finished=True).fully_complete
