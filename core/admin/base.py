"""Tenant-scoped admin base classes: the only way a model appears in the admin.

Everything an operator can see or pick is filtered by ``for_user``: the changelist, counts, the
object pages (another tenant's id is a 404), foreign-key dropdowns, autocomplete (served by the
related model's scoped admin), and list filters. Raw-id widgets are banned because they look up any
id. Writes go through the services named by ``service_create`` / ``service_update`` /
``service_delete``; an admin without them is read-only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.utils.translation import ngettext

from core.access import allowed_tenants
from core.api.base import scope_queryset
from core.models import Tenant


class TenantListFilter(admin.SimpleListFilter):
    """Lists only tenants the operator may view (RelatedFieldListFilter would list them all)."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        tenants = Tenant.objects.for_user(request.user, "view").order_by("name")
        return [(str(t.pk), t.name) for t in tenants.only("pk", "name")[:500]]

    def queryset(self, request, queryset):
        if self.value():
            lookup = "pk" if queryset.model is Tenant else "tenant_id"
            return queryset.filter(**{lookup: self.value()})
        return queryset


class TenantScopedAdmin(admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50

    def __init__(self, model, admin_site):
        if self.raw_id_fields:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: raw_id_fields leak other tenants' objects; "
                "use autocomplete_fields on a scoped admin instead."
            )
        super().__init__(model, admin_site)

    # --- what the operator can see --------------------------------------------------------
    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, "view")

    def get_field_queryset(self, db, db_field, request):
        remote = db_field.remote_field.model
        queryset = remote._default_manager.using(db)
        if remote is Tenant and db_field.name in ("tenant", "parent"):
            tenants = allowed_tenants(request.user, self._tenant_capability("add"), action="add")
            queryset = queryset if tenants is None else queryset.filter(pk__in=tenants.values("pk"))
        else:
            queryset = scope_queryset(queryset, request.user, "view")
        try:
            ordering = self.admin_site.get_model_admin(remote).get_ordering(request)
        except admin.sites.NotRegistered:
            ordering = None
        return queryset.order_by(*ordering) if ordering else queryset

    def _tenant_capability(self, action: str) -> str | None:
        return self.model.capability_for(action)

    def _scoped(self, request, action: str):
        return scope_queryset(self.model._default_manager.all(), request.user, action)

    # --- permissions come from tenant capabilities, not global model permissions ----------
    def _is_operator(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._action_allowed(request, obj, "view", service=None)

    def has_add_permission(self, request) -> bool:
        return self._action_allowed(request, None, "add", service="service_create")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._action_allowed(request, obj, "change", service="service_update")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._action_allowed(request, obj, "delete", service="service_delete")

    def _action_allowed(self, request, obj, action: str, *, service: str | None) -> bool:
        if not self._is_operator(request) or (service and not self._has_service(service)):
            return False
        if obj is not None:
            return self._scoped(request, action).filter(pk=obj.pk).exists()
        # Model level: the capability on at least one tenant, whether or not rows exist yet.
        capability = self._tenant_capability(action)
        if capability is None:
            return False
        tenants = allowed_tenants(request.user, capability, action=action)
        return tenants is None or tenants.exists()

    def _has_service(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(TenantScopedAdmin, name)

    @property
    def action_nouns(self) -> tuple[str, str]:
        """(singular, plural) naming the rows in action messages."""
        return self.model._meta.verbose_name, self.model._meta.verbose_name_plural

    def act_on_each(self, request, queryset, action: str, work) -> None:
        """Run ``work(obj) -> (level, text)`` for each selected row the operator may ``action``;
        one message per row (a service refusal is that row's message) and one for the rest."""
        allowed = queryset.for_user(request.user, action)
        skipped = queryset.count() - allowed.count()
        for obj in allowed:
            try:
                level, text = work(obj)
            except (ValidationError, PermissionDenied) as exc:
                level, text = messages.ERROR, " ".join(getattr(exc, "messages", [str(exc)]))
            self.message_user(request, f"{getattr(obj, 'name', obj)}: {text}", level=level)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d %(name)s skipped: you may not manage it.",
                    "%(n)d %(name)s skipped: you may not manage them.",
                    skipped,
                )
                % {
                    "n": skipped,
                    "name": self.action_nouns[0] if skipped == 1 else self.action_nouns[1],
                },
                level=messages.WARNING,
            )

    # --- writes go through services ----------------------------------------------------------
    def service_create(self, request, form) -> models.Model:
        raise NotImplementedError

    def service_update(self, request, obj, form) -> models.Model:
        raise NotImplementedError

    def service_delete(self, request, obj) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        try:
            if change:
                saved = self.service_update(request, obj, form)
            else:
                saved = self.service_create(request, form)
        except (ValidationError, PermissionDenied) as exc:
            raise ServiceRefused(exc) from exc
        if saved is None:
            # The service deferred the write (an invitation waiting for its invitee's consent):
            # there is no row yet, and the admin's response says so.
            return
        # The admin keeps using ``obj`` (log entry, messages, redirect): make it the saved row.
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.fields_cache = dict(saved._state.fields_cache)

    def delete_model(self, request, obj):
        try:
            self.service_delete(request, obj)
        except (ValidationError, PermissionDenied) as exc:
            raise ServiceRefused(exc) from exc

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            return self._refused(request, refused)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefused as refused:
            return self._refused(request, refused)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except ServiceRefused as refused:  # raised by bulk actions
            return self._refused(request, refused)

    def _refused(self, request, refused: ServiceRefused):
        # The service said no and its transaction rolled back: tell the operator why.
        self.message_user(request, "; ".join(_messages(refused.error)), level=messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())


class ServiceRefused(Exception):
    """A service rejected an admin write; carries the original error for the message."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [f"{field}: {m}" for field, msgs in exc.message_dict.items() for m in msgs]
        return list(exc.messages)
    return [str(exc) or "Permission denied."]


class ReadOnlyTenantScopedAdmin(TenantScopedAdmin):
    """For records nobody edits by hand (audit events, sync runs)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
