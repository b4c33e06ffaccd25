"""Who belongs to which tenant with which role; grants the role's capabilities via guardian."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.access import dimension_scope_for
from core.audit import record_event, snapshot
from core.capabilities import OPERATOR_ROLES, ROLE_RANK, Capability, Role, capabilities_for
from core.dimensions import LIMITABLE_ROLES, clean_scope
from core.models import Invitation, Membership, Tenant, TenantUserObjectPermission
from core.services.guards import require_capability

User = get_user_model()


def _sync_grants(*, user, tenant: Tenant) -> None:
    """Make the user's guardian permissions on ``tenant`` equal to what their role implies."""
    membership = Membership.objects.filter(user=user, tenant=tenant).first()
    wanted = capabilities_for(membership.role) if membership else frozenset()
    TenantUserObjectPermission.objects.filter(user=user, content_object=tenant).exclude(
        permission__codename__in=wanted
    ).delete()
    have = set(
        TenantUserObjectPermission.objects.filter(user=user, content_object=tenant).values_list(
            "permission__codename", flat=True
        )
    )
    missing = Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(Tenant), codename__in=wanted - have
    )
    TenantUserObjectPermission.objects.bulk_create(
        TenantUserObjectPermission(user=user, content_object=tenant, permission=permission)
        for permission in missing
    )


def actor_rank(actor, tenant: Tenant) -> int:
    """The highest role rank the actor holds on this tenant or any ancestor."""
    if actor is None or actor.is_superuser:
        return max(ROLE_RANK.values()) + 1
    roles = Membership.objects.filter(user=actor, tenant_id__in=tenant.lineage).values_list(
        "role", flat=True
    )
    return max((ROLE_RANK[role] for role in roles), default=0)


def _check_can_assign(*, actor, tenant: Tenant, user, role: str) -> None:
    if actor is not None:
        require_capability(actor, Capability.MANAGE_MEMBERS, tenant)
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role: %(role)s") % {"role": role}})
    if role in OPERATOR_ROLES and not user.is_staff:
        raise ValidationError({"role": _("Operator roles are for MSP staff accounts only.")})
    if ROLE_RANK[role] > actor_rank(actor, tenant):
        raise PermissionDenied(_("You cannot grant a role above your own."))


def _add_member(*, tenant: Tenant, user, role: str, created_by) -> Membership:
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"user": _("This user is already a member of the tenant.")})
    membership = Membership(tenant=tenant, user=user, role=role, created_by=created_by)
    membership.full_clean()
    membership.save()
    _sync_grants(user=user, tenant=tenant)
    return membership


@transaction.atomic
def membership_create(*, actor, tenant: Tenant, user, role: str) -> Membership:
    """Add ``user`` directly: for the system and for accounts the invite itself created. People
    who already had an account join through ``member_invite`` → ``invitation_accept``."""
    _check_can_assign(actor=actor, tenant=tenant, user=user, role=role)
    membership = _add_member(tenant=tenant, user=user, role=role, created_by=actor)
    record_event(
        event_type="membership.created",
        actor=actor,
        tenant=tenant,
        target=membership,
        after=snapshot(membership, ["user_id", "role"]),
        extra={"username": user.get_username()},
    )
    return membership


@transaction.atomic
def membership_update(*, actor, membership: Membership, role: str) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_can_assign(actor=actor, tenant=membership.tenant, user=membership.user, role=role)
    if ROLE_RANK[membership.role] > actor_rank(actor, membership.tenant):
        raise PermissionDenied(_("You cannot change the role of someone ranked above you."))
    _ensure_an_owner_remains(membership, new_role=role)
    if membership.dimension_scope and role not in LIMITABLE_ROLES:
        raise ValidationError(
            {"role": _("Remove this member's dimension limit before giving them this role.")}
        )
    before = snapshot(membership, ["user_id", "role"])
    membership.role = role
    membership.save(update_fields=["role"])
    _sync_grants(user=membership.user, tenant=membership.tenant)
    record_event(
        event_type="membership.updated",
        actor=actor,
        tenant=membership.tenant,
        target=membership,
        before=before,
        after=snapshot(membership, ["user_id", "role"]),
    )
    return membership


@transaction.atomic
def membership_delete(*, actor, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    require_capability(actor, Capability.MANAGE_MEMBERS, membership.tenant)
    if ROLE_RANK[membership.role] > actor_rank(actor, membership.tenant):
        raise PermissionDenied(_("You cannot remove someone ranked above you."))
    _ensure_an_owner_remains(membership, new_role=None)
    before = snapshot(membership, ["user_id", "role"])
    tenant, user = membership.tenant, membership.user
    record_event(
        event_type="membership.deleted",
        actor=actor,
        tenant=tenant,
        target=membership,
        before=before,
        extra={"username": user.get_username()},
    )
    membership.delete()
    _sync_grants(user=user, tenant=tenant)


@transaction.atomic
def membership_scope_set(*, actor, membership: Membership, dimension_scope) -> Membership:
    """Limit a member to some dimension values (``{"project": [3]}``), or lift the limit
    (``{}``). Only viewers, engineers and finance members can be limited; the actor must manage
    members, outrank the member and not be limited on the tenant themselves."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    tenant = membership.tenant
    require_capability(actor, Capability.MANAGE_MEMBERS, tenant)
    if dimension_scope_for(actor, tenant, Capability.MANAGE_MEMBERS) is not None:
        raise PermissionDenied(_("Members limited to some dimension values cannot limit others."))
    if ROLE_RANK[membership.role] > actor_rank(actor, tenant):
        raise PermissionDenied(_("You cannot change the access of someone ranked above you."))
    scope = clean_scope(tenant, dimension_scope)
    if scope and membership.role not in LIMITABLE_ROLES:
        raise ValidationError(
            {
                "dimension_scope": [
                    _(
                        "Owners, admins and MSP operators see the whole tenant; limit viewers, "
                        "engineers or finance members."
                    )
                ]
            }
        )
    before = snapshot(membership, ["user_id", "dimension_scope"])
    membership.dimension_scope = scope
    membership.save(update_fields=["dimension_scope"])
    record_event(
        event_type="membership.scope_changed",
        actor=actor,
        tenant=tenant,
        target=membership,
        before=before,
        after=snapshot(membership, ["user_id", "dimension_scope"]),
    )
    return membership


def _ensure_an_owner_remains(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return
    others = Membership.objects.filter(tenant=membership.tenant, role=Role.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise ValidationError({"role": _("A tenant with an owner must keep at least one owner.")})


@transaction.atomic
def member_invite(
    *, actor, tenant: Tenant, email: str, role: str, send_email=None
) -> Membership | Invitation:
    """Add a person by email.

    No account with that email: one is created without a password, made a member, and the person
    receives a link to choose a password (the account is theirs from the start). An existing
    account only gets a pending ``Invitation``: access starts when its owner accepts it in the
    portal, and the inviter learns neither the account's username nor anything else about it.
    """
    if role in OPERATOR_ROLES and actor is not None and not actor.is_superuser:
        # Checked before the email is looked up: the answer must not depend on whether the
        # address belongs to an account, let alone a staff one (invites cannot probe accounts).
        raise ValidationError(
            {"role": _("Operator roles are given to MSP staff accounts by a superuser.")}
        )
    email = User.objects.normalize_email(email).strip()
    if not email or "@" not in email:
        raise ValidationError({"email": _("Enter a valid email address.")})
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        user = User(username=email.lower()[:150], email=email)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        result = membership_create(actor=actor, tenant=tenant, user=user, role=role)
    else:
        result = _invitation_create(actor=actor, tenant=tenant, user=user, email=email, role=role)
    if send_email is not None:
        created = isinstance(result, Membership)
        transaction.on_commit(lambda: send_email(user=user, tenant=tenant, new_account=created))
    return result


def _invitation_create(*, actor, tenant: Tenant, user, email: str, role: str) -> Invitation:
    _check_can_assign(actor=actor, tenant=tenant, user=user, role=role)
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"email": _("This person is already a member of the tenant.")})
    if Invitation.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"email": _("This person has already been invited.")})
    invitation = Invitation(tenant=tenant, user=user, email=email, role=role, invited_by=actor)
    invitation.full_clean()
    invitation.save()
    record_event(
        event_type="membership.invited",
        actor=actor,
        tenant=tenant,
        target=invitation,
        after=snapshot(invitation, ["email", "role"]),  # not the invitee's username
    )
    return invitation


def _own_invitation(actor, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if invitation is None or actor is None or invitation.user_id != actor.pk:
        raise PermissionDenied(_("This invitation is not yours."))
    return invitation


@transaction.atomic
def invitation_accept(*, actor, invitation: Invitation) -> Membership:
    """The invitee (and only they) accepts: the membership starts now, with the offered role,
    provided the inviter may still grant it."""
    invitation = _own_invitation(actor, invitation)
    tenant, role = invitation.tenant, invitation.role
    inviter = invitation.invited_by
    if inviter is not None:
        try:
            _check_can_assign(actor=inviter, tenant=tenant, user=actor, role=role)
        except PermissionDenied:
            raise ValidationError(
                _("This invitation is no longer valid: the person who sent it cannot grant it.")
            ) from None
    membership = _add_member(tenant=tenant, user=actor, role=role, created_by=inviter)
    record_event(
        event_type="membership.created",
        actor=actor,
        tenant=tenant,
        target=membership,
        after=snapshot(membership, ["user_id", "role"]),
        extra={"username": actor.get_username(), "invitation": invitation.pk},
    )
    invitation.delete()
    return membership


@transaction.atomic
def invitation_decline(*, actor, invitation: Invitation) -> None:
    invitation = _own_invitation(actor, invitation)
    record_event(
        event_type="membership.invitation_declined",
        actor=actor,
        tenant=invitation.tenant,
        target=invitation,
        before=snapshot(invitation, ["email", "role"]),
    )
    invitation.delete()


@transaction.atomic
def invitation_cancel(*, actor, invitation: Invitation) -> None:
    """A member manager withdraws a pending invitation of their tenant."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    require_capability(actor, Capability.MANAGE_MEMBERS, invitation.tenant)
    record_event(
        event_type="membership.invitation_cancelled",
        actor=actor,
        tenant=invitation.tenant,
        target=invitation,
        before=snapshot(invitation, ["email", "role"]),
    )
    invitation.delete()
