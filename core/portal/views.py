"""Portal pages. Reads go through ``for_user`` querysets; writes go through services."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.capabilities import ROLE_RANK, Capability
from core.models import Invitation, Membership, Tenant
from core.portal import forms
from core.portal.emails import send_invitation
from core.portal.tenancy import portal_can, portal_view, remember_tenant
from core.selectors import pending_invitations
from core.services.memberships import (
    actor_rank,
    invitation_accept,
    invitation_cancel,
    invitation_decline,
    member_invite,
    membership_delete,
    membership_update,
)
from core.throttling import locked_out_page, password_reset_allowed

logger = logging.getLogger(__name__)


# --- Authentication -------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "portal/auth/login.html"
    authentication_form = forms.LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or an image cannot log anyone out."""


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "portal/auth/password_change.html"
    form_class = forms.PasswordChangeForm
    success_url = reverse_lazy("portal:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "portal/auth/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/auth/password_reset.html"
    form_class = forms.PasswordResetForm
    email_template_name = "portal/emails/password_reset.txt"
    subject_template_name = "portal/emails/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def form_valid(self, form):
        if not password_reset_allowed(self.request, form.cleaned_data["email"]):
            return locked_out_page(
                self.request,
                _("Too many password-reset requests for this address or from your network."),
                settings.PASSWORD_RESET_THROTTLE_WINDOW,
            )
        # Links are built from SITE_URL, never from the request's Host header.
        self.extra_email_context = {"site_url": settings.SITE_URL.rstrip("/")}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/auth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Both "forgot password" links and invitation links land here; the person is signed in."""

    template_name = "portal/auth/password_reset_confirm.html"
    form_class = forms.SetPasswordForm
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("portal:dashboard")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["first_password"] = self.user is not None and not self.user.has_usable_password()
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been set. Welcome to InfraZen."))
        return response


# --- Current tenant ---------------------------------------------------------------------------


@require_POST
@login_required
def tenant_switch(request):
    """Switch the current tenant; only tenants from the user's scoped queryset are accepted."""
    try:
        pk = int(request.POST.get("tenant", ""))
    except ValueError:
        raise Http404 from None
    tenant = get_object_or_404(Tenant.objects.for_user(request.user, "view"), pk=pk)
    remember_tenant(request, tenant)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("portal:dashboard")
    return redirect(target)


# --- Pages -----------------------------------------------------------------------------------


@portal_view
def dashboard(request):
    tenant = request.portal_tenant
    membership = (
        Membership.objects.for_user(request.user, "view")
        .filter(tenant=tenant, user=request.user)
        .first()
    )
    return render(request, "portal/dashboard.html", {"membership": membership})


def _team_page(request, *, invite_form=None, status=200):
    tenant, user = request.portal_tenant, request.user
    members = (
        Membership.objects.for_user(user, "view")
        .for_tenant(tenant)
        .select_related("user")
        .order_by("user__username")
    )
    can_manage = portal_can(request, Capability.MANAGE_MEMBERS)
    rank = actor_rank(user, tenant) if can_manage else 0
    rows = []
    for membership in members:
        editable = can_manage and ROLE_RANK.get(membership.role, 99) <= rank
        rows.append(
            {
                "membership": membership,
                "is_me": membership.user_id == user.pk,
                "editable": editable,
                "role_form": (
                    forms.RoleForm(
                        initial={"role": membership.role},
                        role_choices=forms.grantable_roles(
                            user, tenant, for_user=membership.user, rank=rank
                        ),
                        auto_id=f"id_m{membership.pk}_%s",
                    )
                    if editable
                    else None
                ),
            }
        )
    if can_manage and invite_form is None:
        invite_form = forms.InviteForm(role_choices=forms.grantable_roles(user, tenant, rank=rank))
    invitations = (
        Invitation.objects.for_user(user, "view").for_tenant(tenant).order_by("email")
        if can_manage
        else Invitation.objects.none()
    )
    context = {
        "rows": rows,
        "can_manage": can_manage,
        "invite_form": invite_form,
        "invitations": invitations,
    }
    return render(request, "portal/team.html", context, status=status)


@portal_view
def team(request):
    return _team_page(request)


def _require_manage_members(request) -> None:
    if not portal_can(request, Capability.MANAGE_MEMBERS):
        raise PermissionDenied(_("You cannot manage the members of this tenant."))


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or _("You are not allowed to do that.")


@require_POST
@portal_view
def member_invite_view(request):
    _require_manage_members(request)
    tenant, user = request.portal_tenant, request.user
    form = forms.InviteForm(request.POST, role_choices=forms.grantable_roles(user, tenant))
    if not form.is_valid():
        return _team_page(request, invite_form=form, status=400)

    def send(**kwargs):
        # Runs after commit: the member exists even if the mail server is down; say so.
        try:
            send_invitation(**kwargs)
        except Exception:
            logger.exception("Could not send the invitation to user %s", kwargs["user"].pk)
            messages.warning(
                request,
                _("%(email)s was added, but the invitation email could not be sent.")
                % {"email": form.cleaned_data["email"]},
            )

    try:
        result = member_invite(
            actor=user,
            tenant=tenant,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            send_email=send,
        )
    except ValidationError as error:
        forms.apply_service_error(form, error)
        return _team_page(request, invite_form=form, status=400)
    except PermissionDenied as error:
        form.add_error(None, _error_text(error))
        return _team_page(request, invite_form=form, status=403)
    names = {"email": form.cleaned_data["email"], "tenant": tenant.name}
    if isinstance(result, Invitation):
        text = _("%(email)s is invited to %(tenant)s and gets access after accepting.") % names
    else:
        text = _("%(email)s now has access to %(tenant)s.") % names
    messages.success(request, text)
    return redirect("portal:team")


@require_POST
@portal_view
def invitation_cancel_view(request, pk: int):
    _require_manage_members(request)
    queryset = Invitation.objects.for_user(request.user, "delete").for_tenant(request.portal_tenant)
    invitation = get_object_or_404(queryset, pk=pk)
    try:
        invitation_cancel(actor=request.user, invitation=invitation)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request, _("The invitation of %(email)s was withdrawn.") % {"email": invitation.email}
        )
    return redirect("portal:team")


# --- Invitations waiting for the signed-in person's answer ------------------------------------


@login_required
def invitations(request):
    """Not tenant-scoped: the invitee holds no capability on the inviting tenant yet."""
    return render(
        request, "portal/invitations.html", {"invitations": pending_invitations(request.user)}
    )


def _my_invitation(request, pk: int) -> Invitation:
    return get_object_or_404(pending_invitations(request.user), pk=pk)


@require_POST
@login_required
def invitation_accept_view(request, pk: int):
    invitation = _my_invitation(request, pk)
    try:
        membership = invitation_accept(actor=request.user, invitation=invitation)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
        return redirect("portal:invitations")
    remember_tenant(request, membership.tenant)
    messages.success(
        request, _("You now have access to %(tenant)s.") % {"tenant": membership.tenant.name}
    )
    return redirect("portal:dashboard")


@require_POST
@login_required
def invitation_decline_view(request, pk: int):
    invitation = _my_invitation(request, pk)
    invitation_decline(actor=request.user, invitation=invitation)
    messages.success(
        request,
        _("You declined the invitation to %(tenant)s.") % {"tenant": invitation.tenant.name},
    )
    return redirect("portal:invitations")


def _managed_membership(request, pk: int) -> Membership:
    """A membership of the current tenant the user may change; anything else is a 404."""
    _require_manage_members(request)
    queryset = (
        Membership.objects.for_user(request.user, "change")
        .for_tenant(request.portal_tenant)
        .select_related("user", "tenant")
    )
    return get_object_or_404(queryset, pk=pk)


@require_POST
@portal_view
def member_update_view(request, pk: int):
    membership = _managed_membership(request, pk)
    form = forms.RoleForm(
        request.POST,
        role_choices=forms.grantable_roles(
            request.user, request.portal_tenant, for_user=membership.user
        ),
        auto_id=f"id_m{membership.pk}_%s",
    )
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("portal:team")
    try:
        membership_update(actor=request.user, membership=membership, role=form.cleaned_data["role"])
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request,
            _("%(user)s is now %(role)s.")
            % {"user": membership.user.get_username(), "role": membership.get_role_display()},
        )
    return redirect("portal:team")


@require_POST
@portal_view
def member_remove_view(request, pk: int):
    membership = _managed_membership(request, pk)
    username = membership.user.get_username()
    removing_self = membership.user_id == request.user.pk
    try:
        membership_delete(actor=request.user, membership=membership)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
        return redirect("portal:team")
    messages.success(
        request,
        _("%(user)s no longer has access to %(tenant)s.")
        % {"user": username, "tenant": request.portal_tenant.name},
    )
    # Removing yourself may take away this tenant (and the team page with it).
    return redirect("portal:dashboard" if removing_self else "portal:team")
