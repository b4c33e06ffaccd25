"""Admin for platform-wide reference data: exchange rates and VAT rules."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.audit import record_event, snapshot
from providers.models import (
    ExchangeRate,
    VatRule,
)


class PlatformDataAdmin(admin.ModelAdmin):
    """Platform-wide reference data: superusers edit (audited on the platform chain), MSP
    operators read."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        record_event(
            event_type=f"{obj._meta.model_name}.{'updated' if change else 'created'}",
            actor=request.user,
            target=obj,
            before=before,
            after=snapshot(obj),
        )

    def delete_model(self, request, obj):
        before = snapshot(obj)
        record_event(
            event_type=f"{obj._meta.model_name}.deleted",
            actor=request.user,
            target=obj,
            before=before,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "date", "rate"]
        help_texts = {"rate": _("RUB per one unit of the currency. A manual rate beats the CBR's.")}

    def clean_currency(self):
        from providers.focus.currencies import ISO_4217

        code = (self.cleaned_data.get("currency") or "").strip().upper()
        if code not in ISO_4217 or code == "RUB":
            raise ValidationError(_("Give an ISO 4217 currency other than RUB."))
        return code

    def clean_rate(self):
        rate = self.cleaned_data.get("rate")
        if rate is not None and rate <= 0:
            raise ValidationError(_("The rate must be a positive number."))
        return rate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(PlatformDataAdmin):
    """CBR rates are fetched, never edited; manual rates (which beat the CBR's on their date)
    are set and cleared through the rates services."""

    form = ExchangeRateForm
    list_display = ["date", "currency", "rate", "source", "updated_at"]
    list_filter = ["source", "currency"]
    search_fields = ["currency"]
    date_hierarchy = "date"
    ordering = ["-date", "currency"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "currency",
            "date",
            "source",
            "updated_at",
            *([] if self._manual(obj) else ["rate"]),
        ]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or self._manual(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or self._manual(obj))

    @staticmethod
    def _manual(obj) -> bool:
        return obj.source == ExchangeRate.Source.MANUAL

    def save_model(self, request, obj, form, change):
        from providers.services.rates import exchange_rate_set

        saved = exchange_rate_set(
            actor=request.user, currency=obj.currency, date=obj.date, rate=obj.rate
        )
        obj.pk, obj.source = saved.pk, saved.source

    def delete_model(self, request, obj):
        from providers.services.rates import exchange_rate_clear

        exchange_rate_clear(actor=request.user, currency=obj.currency, date=obj.date)


@admin.register(VatRule)
class VatRuleAdmin(PlatformDataAdmin):
    list_display = ["provider_name", "currency", "valid_from", "rate", "included_in_price"]
    list_filter = ["included_in_price", "currency"]
    search_fields = ["provider_name"]
