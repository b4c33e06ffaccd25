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
