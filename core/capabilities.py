"""Capabilities (django-guardian permissions on Tenant objects) and the roles that bundle them.

Access is granted only on Tenant rows; every tenant-owned row is authorised as "its tenant is one
where the user holds the capability". Guardian tables grow with users x tenants x capabilities,
never with resources or cost rows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Capability(models.TextChoices):
    VIEW_TENANT = "view_tenant_data", _("View tenant data")
    VIEW_COSTS = "view_costs", _("View costs")
    MANAGE_CONNECTIONS = "manage_connections", _("Manage provider connections")
    MANAGE_ALLOCATION = "manage_allocation", _("Manage allocation")
    ACT_ON_RECOMMENDATIONS = "act_on_recommendations", _("Act on recommendations")
    MANAGE_MEMBERS = "manage_members", _("Manage members")
    MANAGE_TOKENS = "manage_tokens", _("Manage API tokens")
    VIEW_AUDIT = "view_audit", _("View audit log")
    MANAGE_TENANT = "manage_tenant", _("Edit tenant settings")
    MANAGE_SUBTENANTS = "manage_subtenants", _("Create and edit sub-tenants")
    # MSP-only (chargeback): what the MSP pays providers and earns is not the customer's to see.
    VIEW_MARGIN = "view_margin", _("View provider costs and MSP margins")
    MANAGE_BILLING = "manage_billing", _("Manage price books and invoices")


C = Capability

CUSTOMER_VIEW = {C.VIEW_TENANT, C.VIEW_COSTS}
# Never granted by a customer role: only MSP operator roles carry them.
MSP_ONLY = {C.VIEW_MARGIN, C.MANAGE_BILLING}


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    FINANCE = "finance", _("Finance")
    ENGINEER = "engineer", _("Engineer")
    VIEWER = "viewer", _("Viewer")
    OPERATOR = "operator", _("MSP operator")
    OPERATOR_READONLY = "operator_readonly", _("MSP operator (read-only)")


ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(set(Capability) - {C.MANAGE_SUBTENANTS} - MSP_ONLY),
    Role.ADMIN: frozenset(set(Capability) - {C.MANAGE_SUBTENANTS, C.MANAGE_TENANT} - MSP_ONLY),
    Role.FINANCE: frozenset(CUSTOMER_VIEW | {C.MANAGE_ALLOCATION, C.VIEW_AUDIT, C.MANAGE_TOKENS}),
    Role.ENGINEER: frozenset(
        CUSTOMER_VIEW | {C.MANAGE_CONNECTIONS, C.ACT_ON_RECOMMENDATIONS, C.MANAGE_TOKENS}
    ),
    Role.VIEWER: frozenset(CUSTOMER_VIEW),
    Role.OPERATOR: frozenset(Capability),
    Role.OPERATOR_READONLY: frozenset(CUSTOMER_VIEW | {C.VIEW_AUDIT, C.VIEW_MARGIN}),
}

OPERATOR_ROLES = frozenset({Role.OPERATOR, Role.OPERATOR_READONLY})
# Roles allowed to grant a role: nobody may hand out more than they hold.
ROLE_RANK = {
    Role.VIEWER: 1,
    Role.ENGINEER: 2,
    Role.FINANCE: 2,
    Role.OPERATOR_READONLY: 2,
    Role.ADMIN: 3,
    Role.OWNER: 4,
    Role.OPERATOR: 5,
}

# Actions whose capability changes nothing: allowed for read-scoped API tokens.
READ_ACTIONS = frozenset({"view"})


def capabilities_for(role: str) -> frozenset[str]:
    return ROLE_CAPABILITIES[role]
