"""Portal URLs. Every route is declared with ``portal_path`` and so appears in ``PORTAL_VIEWS``
(see ``core.portal.registry.PortalView`` for what each entry says)."""

from core.capabilities import Capability
from core.portal import views
from core.portal.registry import PORTAL_VIEWS, PortalView, portal_path
from providers.portal import connections, costs, resources

app_name = "portal"

MEMBERSHIP = "core.Membership"
INVITATION = "core.Invitation"
CONNECTION = {"object_model": "providers.Connection", "object_param": "pk"}
PUBLIC = {"public": True, "tenant_scoped": False}
ACCOUNT = {"tenant_scoped": False}  # needs login, not a tenant
MANAGE_MEMBERS = Capability.MANAGE_MEMBERS.value
VIEW_COSTS = Capability.VIEW_COSTS.value
MANAGE_CONNECTIONS = Capability.MANAGE_CONNECTIONS.value

urlpatterns = [
    portal_path("", views.dashboard, "dashboard"),
    # Authentication and account
    portal_path("login/", views.LoginView.as_view(), "login", methods=("GET", "POST"), **PUBLIC),
    portal_path("logout/", views.LogoutView.as_view(), "logout", methods=("POST",), **ACCOUNT),
    portal_path(
        "password/change/",
        views.PasswordChangeView.as_view(),
        "password_change",
        methods=("GET", "POST"),
        **ACCOUNT,
    ),
    portal_path(
        "password/change/done/",
        views.PasswordChangeDoneView.as_view(),
        "password_change_done",
        **ACCOUNT,
    ),
    portal_path(
        "password/reset/",
        views.PasswordResetView.as_view(),
        "password_reset",
        methods=("GET", "POST"),
        **PUBLIC,
    ),
    portal_path(
        "password/reset/sent/",
        views.PasswordResetDoneView.as_view(),
        "password_reset_done",
        **PUBLIC,
    ),
    portal_path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        "password_reset_confirm",
        methods=("GET", "POST"),
        **PUBLIC,
    ),
    # Current tenant
    portal_path(
        "tenant/switch/",
        views.tenant_switch,
        "tenant_switch",
        methods=("POST",),
        tenant_scoped=False,
        object_model="core.Tenant",
        object_param="tenant",
        object_in="post",
    ),
    # Costs (FOCUS downloads are served by /api/v1/cost-export/, which streams)
    portal_path("costs/", costs.costs, "costs", capability=VIEW_COSTS),
    portal_path(
        "costs/import/",
        costs.costs_upload,
        "costs_upload",
        methods=("POST",),
        capability=MANAGE_CONNECTIONS,
    ),
    # Resources (read-only inventory)
    portal_path("resources/", resources.resources, "resources"),
    portal_path(
        "resources/<int:pk>/",
        resources.resource_detail,
        "resources_detail",
        object_model="providers.Resource",
        object_param="pk",
    ),
    # Connections (writes through providers.services.connections)
    portal_path("connections/", connections.connections, "connections"),
    portal_path(
        "connections/add/",
        connections.connections_add,
        "connections_add",
        methods=("GET", "POST"),
        capability=MANAGE_CONNECTIONS,
    ),
    portal_path(
        "connections/<int:pk>/edit/",
        connections.connections_edit,
        "connections_edit",
        methods=("GET", "POST"),
        capability=MANAGE_CONNECTIONS,
        post_data={"name": "Renamed", "sync_interval": "3600"},
        **CONNECTION,
    ),
    portal_path(
        "connections/<int:pk>/sync/",
        connections.connections_sync,
        "connections_sync",
        methods=("POST",),
        capability=MANAGE_CONNECTIONS,
        **CONNECTION,
    ),
    portal_path(
        "connections/<int:pk>/verify/",
        connections.connections_verify,
        "connections_verify",
        methods=("POST",),
        capability=MANAGE_CONNECTIONS,
        **CONNECTION,
    ),
    portal_path(
        "connections/<int:pk>/enable/",
        connections.connections_enable,
        "connections_enable",
        methods=("POST",),
        capability=MANAGE_CONNECTIONS,
        post_data={"enabled": "0"},
        **CONNECTION,
    ),
    # Team
    portal_path("team/", views.team, "team"),
    portal_path(
        "team/invite/",
        views.member_invite_view,
        "team_invite",
        methods=("POST",),
        capability=MANAGE_MEMBERS,
        post_data={"email": "new.person@example.com", "role": "viewer"},
    ),
    portal_path(
        "team/<int:pk>/role/",
        views.member_update_view,
        "team_member_update",
        methods=("POST",),
        capability=MANAGE_MEMBERS,
        object_model=MEMBERSHIP,
        object_param="pk",
        post_data={"role": "viewer"},
    ),
    portal_path(
        "team/invitations/<int:pk>/cancel/",
        views.invitation_cancel_view,
        "team_invitation_cancel",
        methods=("POST",),
        capability=MANAGE_MEMBERS,
        object_model=INVITATION,
        object_param="pk",
    ),
    # Invitations waiting for the signed-in person's own answer (their account, not a tenant)
    portal_path("invitations/", views.invitations, "invitations", **ACCOUNT),
    portal_path(
        "invitations/<int:pk>/accept/",
        views.invitation_accept_view,
        "invitations_accept",
        methods=("POST",),
        object_model=INVITATION,
        object_param="pk",
        **ACCOUNT,
    ),
    portal_path(
        "invitations/<int:pk>/decline/",
        views.invitation_decline_view,
        "invitations_decline",
        methods=("POST",),
        object_model=INVITATION,
        object_param="pk",
        **ACCOUNT,
    ),
    portal_path(
        "team/<int:pk>/remove/",
        views.member_remove_view,
        "team_member_remove",
        methods=("POST",),
        capability=MANAGE_MEMBERS,
        object_model=MEMBERSHIP,
        object_param="pk",
    ),
]

__all__ = ["PORTAL_VIEWS", "PortalView", "urlpatterns"]
