from core.models.audit import AuditEvent
from core.models.base import TenantOwnedModel, tenant_scoped_models
from core.models.invitations import Invitation
from core.models.replay import SeenNonce
from core.models.tenancy import (
    Membership,
    Tenant,
    TenantGroupObjectPermission,
    TenantUserObjectPermission,
)
from core.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Invitation",
    "Membership",
    "SeenNonce",
    "Tenant",
    "TenantGroupObjectPermission",
    "TenantOwnedModel",
    "TenantUserObjectPermission",
    "tenant_scoped_models",
]
