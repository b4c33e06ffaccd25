"""The providers app's portal pages: costs, resources and connections (mounted in the ``portal``
namespace by ``infrazen/portal_urls.py``; see ``core.portal.registry``)."""

from django.utils.translation import gettext_lazy as _

from core.capabilities import Capability
from core.portal.registry import NavEntry, portal_path
from providers.portal import balances, connections, costs, resources

NAVIGATION = [
    NavEntry("costs", _("Costs"), "portal:costs", order=20),
    NavEntry("balances", _("Balances"), "portal:balances", order=25),
    NavEntry("resources", _("Resources"), "portal:resources", order=30),
    NavEntry("connections", _("Connections"), "portal:connections", order=60),
]

CONNECTION = {"object_model": "providers.Connection", "object_param": "pk"}
VIEW_COSTS = Capability.VIEW_COSTS.value
MANAGE_CONNECTIONS = Capability.MANAGE_CONNECTIONS.value

urlpatterns = [
    # Costs (FOCUS downloads are served by /api/v1/cost-export/, which streams)
    portal_path("costs/", costs.costs, "costs", capability=VIEW_COSTS),
    portal_path(
        "costs/import/",
        costs.costs_upload,
        "costs_upload",
        methods=("POST",),
        capability=MANAGE_CONNECTIONS,
    ),
    # Prepaid balances and when they run out (read-only)
    portal_path("balances/", balances.balances, "balances", capability=VIEW_COSTS),
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
]
