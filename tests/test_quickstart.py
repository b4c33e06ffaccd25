"""The quick-start's pieces: the demo seeder (idempotent, audited) and the launcher's helpers."""

from __future__ import annotations

import importlib.util
import io
import json
import stat
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from core.models import AuditEvent, Membership, Tenant

ROOT = Path(__file__).resolve().parent.parent
User = get_user_model()


def seed(path: Path, *args) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--credentials-file", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def no_demo_password(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)


@pytest.mark.django_db
@pytest.mark.usefixtures("no_demo_password")
def test_seed_demo_builds_the_demo_msp_through_audited_services(tmp_path):
    seed(tmp_path / "creds.json")

    msp = Tenant.objects.get(slug="demo-msp")
    assert msp.kind == Tenant.Kind.MSP
    assert {t.slug for t in msp.children.all()} == {"romashka", "vector"}
    operator = User.objects.get(username="operator")
    assert operator.is_staff
    assert not operator.is_superuser
    assert set(Tenant.objects.for_user(operator, "view").values_list("slug", flat=True)) == {
        "romashka",
        "vector",
    }
    owner = User.objects.get(username="romashka-owner")
    assert list(Tenant.objects.for_user(owner, "view").values_list("slug", flat=True)) == [
        "romashka"
    ]
    assert User.objects.get(username="admin").is_superuser
    events = AuditEvent.objects.all()
    types = sorted(events.values_list("event_type", flat=True))
    # The allocation demo adds a project lead (a membership limited to one project) and
    # Romashka's dimensions, tag settings, mapping and shared-cost rules, price book and Orders
    # metric (allocation/demo_steps.py), and a support-plan fee imported as a FOCUS file (the
    # shared-cost worked example).
    assert [t for t in types if not t.startswith("allocation.")] == (
        ["costs.imported"]
        + ["membership.created"] * 5
        + ["membership.scope_changed"]
        + ["tenant.created"] * 3
    )
    allocation = Counter(t for t in types if t.startswith("allocation."))
    assert allocation == {
        "allocation.business_unit_created": 2,
        "allocation.project_created": 3,
        "allocation.environment_created": 3,
        "allocation.cost_center_created": 1,
        "allocation.virtual_tag_created": 1,
        "allocation.tag_alias_created": 5,
        "allocation.required_tag_created": 2,
        "allocation.tag_rule_created": 9,
        "allocation.allocation_rule_created": 2,
        # Chargeback and unit economics: Romashka's price book, its fixed fee, the Orders metric
        # and its points (one event per batch).
        "allocation.price_book_created": 1,
        "allocation.price_book_charge_created": 1,
        "allocation.business_metric_created": 1,
        "allocation.business_metric_points_upserted": 1,
    }
    assert set(events.values_list("source", flat=True)) == {"cli"}


@pytest.mark.django_db
@pytest.mark.usefixtures("no_demo_password")
def test_seed_demo_is_idempotent_and_keeps_its_passwords(tmp_path):
    path = tmp_path / "creds.json"
    seed(path)
    first = json.loads(path.read_text())
    counts = (Tenant.objects.count(), Membership.objects.count(), AuditEvent.objects.count())

    output = seed(path)

    assert "already complete" in output
    assert json.loads(path.read_text()) == first
    assert (Tenant.objects.count(), Membership.objects.count(), AuditEvent.objects.count()) == (
        counts
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for account in first["accounts"]:
        user = User.objects.get(username=account["username"])
        assert user.check_password(account["password"])
        assert account["password"] in output


@pytest.mark.django_db
def test_seed_demo_with_demo_password_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-4321")
    path = tmp_path / "creds.json"

    seed(path)

    assert not path.exists()
    assert User.objects.get(username="vector-owner").check_password("demo-pass-4321")


def load_launcher():
    spec = importlib.util.spec_from_file_location("infrazen_launcher", ROOT / "scripts/infrazen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launcher_stamp_follows_included_requirement_files(tmp_path):
    launcher = load_launcher()
    runtime = tmp_path / "requirements.txt"
    dev = tmp_path / "requirements-dev.txt"
    runtime.write_text("Django==5.2\n")
    dev.write_text("-r requirements.txt  # runtime\npytest==9\n")
    before = launcher.requirements_digest(dev)

    runtime.write_text("Django==5.2.1\n")

    assert launcher.requirement_files(dev) == [dev, runtime]
    assert launcher.requirements_digest(dev) != before
