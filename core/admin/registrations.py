"""Admin for tenants, memberships, API tokens, the audit log and users (all tenant-scoped)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.access import visible_users
from core.admin.base import (
    ReadOnlyTenantScopedAdmin,
    TenantListFilter,
    TenantScopedAdmin,
)
from core.models import ApiToken, AuditEvent, Invitation, Membership, Tenant
from core.portal.emails import send_invitation
from core.services.memberships import member_invite, membership_delete, membership_update
from core.services.tenants import EDITABLE_FIELDS, tenant_create, tenant_update
from core.services.tokens import api_token_create, api_token_revoke

User = get_user_model()


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "parent", "kind", "status", "default_currency", "created_at"]
    list_filter = ["status", "kind", TenantListFilter]
    search_fields = ["name", "slug"]
    ordering = ["lineage"]
    readonly_fields = ["kind", "created_at", "updated_at"]
    fields = ["name", "slug", "parent", *EDITABLE_FIELDS[2:], "kind", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # Re-parenting is not supported: the lineage is fixed at creation.
        return [*self.readonly_fields, "parent"] if obj is not None else self.readonly_fields

    # Settings added after the form's first version: left out of a POST, they keep their default.
    optional_settings = ("cost_amounts",)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name in self.optional_settings:
            kwargs["required"] = False
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def _given(self, form, names):
        return {
            k: form.cleaned_data[k]
            for k in names
            if not (k in self.optional_settings and form.cleaned_data.get(k) in ("", None))
        }

    def service_create(self, request, form):
        data = self._given(form, ("name", "slug", "parent", *EDITABLE_FIELDS[2:]))
        return tenant_create(actor=request.user, **data)

    def service_update(self, request, obj, form):
        changes = self._given(form, [k for k in EDITABLE_FIELDS if k in form.changed_data])
        return tenant_update(actor=request.user, tenant=Tenant.objects.get(pk=obj.pk), **changes)


class MembershipAddForm(forms.ModelForm):
    email = forms.EmailField(
        label=_("Email"),
        help_text=_("An account is created and invited by email if none exists."),
    )

    class Meta:
        model = Membership
        fields = ["tenant", "email", "role"]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "user_email", "tenant", "role", "created_at"]
    list_filter = ["role", TenantListFilter]
    search_fields = ["user__username", "user__email", "tenant__name"]
    list_select_related = ["user", "tenant"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "email", "role"]
        return ["tenant", "user", "role", "dimension_scope"]

    def get_readonly_fields(self, request, obj=None):
        # A limit to some dimension values is set in the portal or the API (its values are
        # checked by the app that owns the dimensions); shown here, not edited.
        return ["tenant", "user", "dimension_scope"] if obj is not None else []

    @admin.display(description=_("email"), ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def service_create(self, request, form):
        result = member_invite(
            actor=request.user,
            tenant=form.cleaned_data["tenant"],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            send_email=send_invitation,
        )
        # An existing account joins only when its owner accepts: there is no membership to show
        # yet, and log_addition / response_add read the invitation from the form's instance.
        form.instance._invitation = result if isinstance(result, Invitation) else None
        return None if isinstance(result, Invitation) else result

    def log_addition(self, request, obj, message):
        if getattr(obj, "_invitation", None) is None:  # the audit log has the invitation
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        invitation = getattr(obj, "_invitation", None)
        if invitation is None:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request,
            _(
                "%(email)s already has an account: it is invited to %(tenant)s and gets access "
                "once its owner accepts."
            )
            % {"email": invitation.email, "tenant": invitation.tenant},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:core_membership_changelist"))

    def service_update(self, request, obj, form):
        membership = Membership.objects.get(pk=obj.pk)
        return membership_update(actor=request.user, membership=membership, role=obj.role)

    def service_delete(self, request, obj):
        membership_delete(actor=request.user, membership=obj)


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["tenant", "name", "scope", "expires_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "expires_at" in self.fields:
            self.fields["expires_at"].required = False
            self.fields["expires_at"].help_text = _(
                "Leave empty for the default lifetime (%(days)s days)."
            ) % {"days": settings.API_TOKEN_DEFAULT_TTL.days}


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    form = ApiTokenAddForm
    list_display = ["name", "prefix", "tenant", "user", "scope", "expires_at", "state"]
    list_filter = ["scope", TenantListFilter]
    search_fields = ["name", "key_id", "user__username"]
    list_select_related = ["tenant", "user"]
    actions = ["revoke_tokens"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant", "name", "scope", "expires_at", "user", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "scope", "expires_at"]
        return self.get_readonly_fields(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # tokens are immutable; revoke and create a new one

    @admin.display(description=_("prefix"))
    def prefix(self, obj):
        return f"izt_{obj.key_id}"

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.revoked_at:
            return _("revoked")
        return _("expired") if obj.is_expired else _("active")

    def service_create(self, request, form):
        issued = api_token_create(
            actor=request.user,
            tenant=form.cleaned_data["tenant"],
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _("Copy the token now; it will not be shown again:"),
                issued.raw,
            ),
            level=messages.WARNING,
        )
        return issued.token

    def service_delete(self, request, obj):
        if obj.revoked_at is None:
            api_token_revoke(actor=request.user, token=obj)

    def delete_view(self, request, object_id, extra_context=None):
        extra_context = {**(extra_context or {}), "title": _("Revoke API token")}
        return super().delete_view(request, object_id, extra_context)

    @admin.action(description=_("Revoke selected tokens"))
    def revoke_tokens(self, request, queryset):
        revoked = 0
        for token in queryset.for_user(request.user, "delete").filter(revoked_at__isnull=True):
            api_token_revoke(actor=request.user, token=token)
            revoked += 1
        self.message_user(request, _("%(n)d token(s) revoked.") % {"n": revoked})


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyTenantScopedAdmin):
    """Pending invitations (created from the membership form; withdrawn in the portal)."""

    list_display = ["email", "tenant", "role", "invited_by", "created_at"]
    list_filter = ["role", TenantListFilter]
    search_fields = ["email", "tenant__name"]
    list_select_related = ["tenant", "invited_by"]
    fields = ["tenant", "email", "role", "invited_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ["created_at", "event_type", "actor_repr", "tenant", "target_repr", "source"]
    list_filter = ["source", TenantListFilter]
    search_fields = ["event_type", "actor_repr", "target_repr", "request_id", "target_id"]
    list_select_related = ["tenant"]
    date_hierarchy = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Users: operators see only people who belong to tenants they can view; only superusers edit.
admin.site.unregister(User)


@admin.register(User)
class ScopedUserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=visible_users(request.user).values("pk"))

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


admin.site.site_header = _("InfraZen operations")
admin.site.site_title = _("InfraZen admin")
admin.site.index_title = _("MSP back office")
