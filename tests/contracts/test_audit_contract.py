"""Every service writes exactly one audit event naming the actor and the tenant, and a refused
call writes neither the change nor an event."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from core.models import AuditEvent
from tests.contracts.discovery import service_functions
from tests.contracts.samples import SERVICE_CASES
from tests.factories import UserFactory

SERVICES = [name for name, _ in service_functions() if name in SERVICE_CASES]


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.parametrize("name", SERVICES)
def test_service_writes_exactly_one_audit_event(world, name):
    actor, tenant, act = SERVICE_CASES[name](world)
    last_id = _last_event_id()

    result = act(actor)

    events = list(AuditEvent.objects.filter(id__gt=last_id))
    assert len(events) == 1, [e.event_type for e in events]
    event = events[0]
    expected_tenant = tenant(result) if callable(tenant) else tenant
    assert event.actor_id == actor.pk
    assert event.actor_repr == actor.get_username()
    assert event.tenant_id == expected_tenant.pk
    assert event.hash


@pytest.mark.parametrize("name", SERVICES)
def test_refused_service_call_writes_nothing(world, name, django_capture_on_commit_callbacks):
    _, _, act = SERVICE_CASES[name](world)
    outsider = UserFactory()  # belongs to no tenant
    last_id = _last_event_id()

    with pytest.raises((PermissionDenied, ValidationError)):
        act(outsider)

    assert not AuditEvent.objects.filter(id__gt=last_id).exists()
