"""What the contracts need to exercise each model, endpoint and service.

Register here when you add a model (SAMPLES), a create endpoint (CREATE_PAYLOADS) or a service
(SERVICE_CASES); the contract tests refuse unregistered ones, so coverage cannot silently lapse.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from core.audit import record_event
from core.capabilities import Role
from tests.factories import TenantFactory, member

# model label -> builder(world, tenant) returning a NEW row of that model owned by ``tenant``.
SAMPLES: dict[str, Callable] = {}
# API basename -> builder(world) returning a valid create payload for tenant B (posted by
# world.operator_b).
CREATE_PAYLOADS: dict[str, Callable] = {}
# "module.function" -> case(world) doing any setup and returning (actor, tenant, act): act(actor)
# runs the service once; the single audit event it writes must name that actor and the tenant
# (or tenant(result) when the tenant is what the service creates).
SERVICE_CASES: dict[str, Callable] = {}


def sample(label: str):
    def register(func):
        SAMPLES[label] = func
        return func

    return register


def service_case(name: str):
    def register(func):
        SERVICE_CASES[name] = func
        return func

    return register


# --- core ----------------------------------------------------------------------------------
@sample("core.tenant")
def _tenant(world, tenant):
    return TenantFactory(parent=tenant)


@sample("auth.user")
def _user(world, tenant):
    # Users are not tenant-owned; an account that is a member of ``tenant`` only is "its" user
    # (what another tenant's operator must not find through user pickers and autocomplete).
    return member(tenant, Role.VIEWER)


@sample("core.membership")
def _membership(world, tenant):
    from core.models import Membership

    user = member(tenant, Role.VIEWER)
    return Membership.objects.get(user=user, tenant=tenant)


@sample("core.apitoken")
def _api_token(world, tenant):
    from core.services.tokens import api_token_create

    owner = member(tenant, Role.OWNER)
    return api_token_create(actor=owner, tenant=tenant, name="sample").token


@sample("core.auditevent")
def _audit_event(world, tenant):
    with transaction.atomic():
        return record_event(event_type="sample.event", tenant=tenant)


@sample("core.invitation")
def _invitation(world, tenant):
    """A pending invitation of an account that already exists (it belongs to another tenant)."""
    from core.services.memberships import member_invite
    from tests.factories import UserFactory

    invitee = UserFactory()
    return member_invite(actor=None, tenant=tenant, email=invitee.email, role=Role.VIEWER)


CREATE_PAYLOADS["tenant"] = lambda w: {"name": "New sub", "slug": "new-sub", "parent": w.b.pk}
CREATE_PAYLOADS["membership"] = lambda w: {
    "tenant": w.b.pk,
    "email": "newbie@example.com",
    "role": "viewer",
}
CREATE_PAYLOADS["apitoken"] = lambda w: {"tenant": w.b.pk, "name": "tok", "scope": "read"}


@service_case("core.services.tenants.tenant_create")
def _case_tenant_create(world):
    from core.services.tenants import tenant_create

    return (
        world.operator_a,
        lambda created: created,
        lambda actor: tenant_create(actor=actor, name="Sub", slug="sub-a", parent=world.a),
    )


@service_case("core.services.tenants.tenant_update")
def _case_tenant_update(world):
    from core.services.tenants import tenant_update

    return (
        world.owner_a,
        world.a,
        lambda actor: tenant_update(actor=actor, tenant=world.a, name="Renamed"),
    )


@service_case("core.services.memberships.membership_create")
def _case_membership_create(world):
    from core.services.memberships import membership_create
    from tests.factories import UserFactory

    user = UserFactory()
    return (
        world.owner_a,
        world.a,
        lambda actor: membership_create(actor=actor, tenant=world.a, user=user, role=Role.VIEWER),
    )


@service_case("core.services.memberships.membership_update")
def _case_membership_update(world):
    from core.models import Membership
    from core.services.memberships import membership_update

    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: membership_update(actor=actor, membership=membership, role=Role.FINANCE),
    )


@service_case("core.services.memberships.membership_delete")
def _case_membership_delete(world):
    from core.models import Membership
    from core.services.memberships import membership_delete

    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: membership_delete(actor=actor, membership=membership),
    )


@service_case("core.services.memberships.member_invite")
def _case_member_invite(world):
    from core.services.memberships import member_invite

    return (
        world.owner_a,
        world.a,
        lambda actor: member_invite(
            actor=actor, tenant=world.a, email="new@example.com", role="viewer"
        ),
    )


@service_case("core.services.memberships.invitation_accept")
def _case_invitation_accept(world):
    from core.services.memberships import invitation_accept

    invitation = _invitation(world, world.a)
    return (
        invitation.user,
        world.a,
        lambda actor: invitation_accept(actor=actor, invitation=invitation),
    )


@service_case("core.services.memberships.invitation_decline")
def _case_invitation_decline(world):
    from core.services.memberships import invitation_decline

    invitation = _invitation(world, world.a)
    return (
        invitation.user,
        world.a,
        lambda actor: invitation_decline(actor=actor, invitation=invitation),
    )


@service_case("core.services.memberships.invitation_cancel")
def _case_invitation_cancel(world):
    from core.services.memberships import invitation_cancel

    invitation = _invitation(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: invitation_cancel(actor=actor, invitation=invitation),
    )


@service_case("core.services.portal_accounts.user_password_set")
def _case_user_password_set(world):
    from core.services.portal_accounts import user_password_set

    user = world.viewer_a
    return (
        user,
        lambda result: Platform,  # account events live on the platform chain, like logins
        lambda actor: user_password_set(actor=actor, user=user, raw_password="Another-Secret-9"),
    )


class Platform:
    """The platform audit chain (tenant NULL)."""

    pk = None


@service_case("core.services.tokens.api_token_create")
def _case_token_create(world):
    from core.services.tokens import api_token_create

    return (
        world.owner_a,
        world.a,
        lambda actor: api_token_create(actor=actor, tenant=world.a, name="t"),
    )


@service_case("core.services.tokens.api_token_revoke")
def _case_token_revoke(world):
    from core.services.tokens import api_token_create, api_token_revoke

    issued = api_token_create(actor=world.owner_a, tenant=world.a, name="t")
    return world.owner_a, world.a, lambda actor: api_token_revoke(actor=actor, token=issued.token)


# --- providers -----------------------------------------------------------------------------
def _connection(tenant, **extra):
    from tests.factories import ConnectionFactory

    # "beget" has no discovery adapter yet: syncs fail at once, with no network involved
    # (Selectel and VK Cloud have theirs now and would call their real hosts).
    return ConnectionFactory(tenant=tenant, **{"provider": "beget", **extra})


@sample("providers.connection")
def _sample_connection(world, tenant):
    return _connection(tenant)


@sample("providers.resource")
def _sample_resource(world, tenant, connection=None):
    from tests.factories import ResourceFactory

    return ResourceFactory(connection=connection or _connection(tenant))


@sample("providers.resourceevent")
def _sample_resource_event(world, tenant):
    from django.utils import timezone

    from providers.models import ResourceEvent

    resource = _sample_resource(world, tenant)
    return ResourceEvent.objects.create(
        tenant=tenant, resource=resource, kind="appeared", at=timezone.now()
    )


@sample("providers.syncrun")
def _sample_sync_run(world, tenant):
    from django.utils import timezone

    from providers.models import SyncRun

    return SyncRun.objects.create(
        tenant=tenant,
        connection=_connection(tenant),
        kind="discovery",
        trigger="manual",
        started_at=timezone.now(),
    )


@sample("providers.resourcemetric")
def _sample_resource_metric(world, tenant):
    from django.utils import timezone

    from providers.metrics_store import samples_write
    from providers.models import ResourceMetric

    resource = _sample_resource(world, tenant)
    samples_write([(tenant.pk, resource.pk, "cpu_utilization", timezone.now(), 0.42)])
    return ResourceMetric.objects.filter(resource_id=resource.pk).get()


@sample("providers.resourcemetricdaily")
def _sample_resource_metric_daily(world, tenant):
    from django.utils import timezone

    from providers.models import ResourceMetricDaily

    resource = _sample_resource(world, tenant)
    return ResourceMetricDaily.objects.create(
        tenant=tenant,
        resource=resource,
        metric="cpu_utilization",
        day=timezone.now().date(),
        avg=0.5,
        min=0.1,
        max=0.9,
        samples=24,
    )


@service_case("providers.services.connections.connection_create")
def _case_connection_create(world):
    from providers.services.connections import connection_create

    return (
        world.owner_a,
        world.a,
        lambda actor: connection_create(
            actor=actor,
            tenant=world.a,
            provider="yandex_cloud",
            name="Prod",
            credentials={"oauth_token": "y0_secret"},
            start_sync=False,
        ),
    )


@service_case("providers.services.connections.connection_update")
def _case_connection_update(world):
    from providers.services.connections import connection_update

    connection = _connection(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_update(
            actor=actor,
            connection=connection,
            name="Renamed",
            credentials={"login": "acme", "api_password": "new-api-password"},
        ),
    )


@service_case("providers.services.connections.connection_set_enabled")
def _case_connection_set_enabled(world):
    from providers.services.connections import connection_set_enabled

    connection = _connection(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_set_enabled(actor=actor, connection=connection, enabled=False),
    )


@service_case("providers.services.connections.connection_delete")
def _case_connection_delete(world):
    from providers.services.connections import connection_delete

    connection = _connection(world.a)
    _sample_resource(world, world.a, connection=connection)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_delete(actor=actor, connection=connection),
    )


@service_case("providers.services.connections.connection_verify")
def _case_connection_verify(world):
    from providers.services.connections import connection_verify

    connection = _connection(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_verify(actor=actor, connection=connection),
    )


@service_case("providers.services.connections.connection_request_sync")
def _case_connection_request_sync(world):
    from providers.services.connections import connection_request_sync

    connection = _connection(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_request_sync(actor=actor, connection=connection),
    )


@service_case("providers.services.sync.connection_sync")
def _case_connection_sync(world):
    from providers.services.sync import connection_sync

    connection = _connection(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_sync(actor=actor, connection_id=connection.pk),
    )


CREATE_PAYLOADS["connection"] = lambda w: {
    "tenant": w.b.pk,
    "provider": "yandex_cloud",
    "name": "Beta production",
    "credentials": {"oauth_token": "y0_contract-secret"},
    "scope": {"folder_ids": ["b1gfolder"]},
    "endpoints": {"*": "http://127.0.0.1:9"},
    "sync_interval": 1800,
}

from tests.contracts import samples_extra  # noqa: E402, F401  (registers more cases)

# A FOCUS upload as JSON (base64 content), imported during the request (wait) so it answers 201.
CREATE_PAYLOADS["importrun"] = lambda w: {
    "tenant": w.b.pk,
    "source_key": "contract-upload",
    "file_name": "contract.csv",
    "content": __import__("base64")
    .b64encode(__import__("tests.contracts.samples_extra", fromlist=["*"])._focus_file().read())
    .decode(),
    "policy": "reject_file",
    "wait": True,
}

from tests.contracts import samples_allocation  # noqa: E402, F401  (registers allocation cases)
