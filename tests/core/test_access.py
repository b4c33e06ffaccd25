from core.capabilities import Capability, Role
from core.models import Membership, Tenant
from tests.factories import TenantFactory, member


def test_grant_on_a_tenant_reaches_its_sub_tenants(world):
    sub = TenantFactory(parent=world.a)
    visible = set(Tenant.objects.for_user(world.owner_a, "view"))
    assert visible == {world.a, sub}


def test_user_without_membership_sees_nothing(world):
    outsider = member(TenantFactory(), Role.VIEWER)
    assert not Membership.objects.for_user(outsider, "view").filter(tenant=world.a).exists()


def test_unknown_action_fails_closed(world):
    assert not Tenant.objects.for_user(world.superuser, "launch-missiles").exists()


def test_anonymous_user_sees_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not Tenant.objects.for_user(AnonymousUser(), "view").exists()


def test_suspended_tenant_is_hidden_from_customers_but_not_operators(world):
    Tenant.objects.filter(pk=world.a.pk).update(status=Tenant.Status.SUSPENDED)
    assert not Tenant.objects.for_user(world.owner_a, "view").exists()
    assert list(Tenant.objects.for_user(world.operator_a, "view")) == [world.a]


def test_viewer_cannot_manage_members(world):
    assert not Membership.objects.for_user(world.viewer_a, "change").exists()
    assert Membership.objects.for_user(world.owner_a, "change").exists()


def test_role_change_regrants_capabilities(world):
    from core.services.memberships import membership_update

    membership = Membership.objects.get(user=world.viewer_a, tenant=world.a)
    membership_update(actor=world.owner_a, membership=membership, role=Role.ADMIN)
    assert Tenant.objects.for_user(world.viewer_a, "view").exists()
    assert Membership.objects.for_user(world.viewer_a, "change").exists()
    assert Capability.MANAGE_MEMBERS
