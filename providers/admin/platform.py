"""Admin for platform-wide reference data: exchange rates, VAT rules and provider price lists."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from providers.models import ExchangeRate, ProviderPrice, VatRule
from providers.services.prices import FIELDS as PRICE_FIELDS
from providers.services.prices import (
    provider_price_create,
    provider_price_delete,
    provider_price_update,
)
from providers.services.rates import exchange_rate_clear, exchange_rate_set
from providers.services.vat import FIELDS as VAT_FIELDS
from providers.services.vat import vat_rule_create, vat_rule_delete, vat_rule_update


class PlatformDataAdmin(admin.ModelAdmin):
    """Platform-wide reference data: superusers edit, MSP operators read. Subclasses write
    through their services (``save_model``/``delete_model``), which audit on the platform chain."""

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
        raise NotImplementedError(f"{type(self).__name__} must save through a service")

    def delete_model(self, request, obj):
        raise NotImplementedError(f"{type(self).__name__} must delete through a service")

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
        saved = exchange_rate_set(
            actor=request.user, currency=obj.currency, date=obj.date, rate=obj.rate
        )
        obj.pk, obj.source = saved.pk, saved.source

    def delete_model(self, request, obj):
        exchange_rate_clear(actor=request.user, currency=obj.currency, date=obj.date)


@admin.register(VatRule)
class VatRuleAdmin(PlatformDataAdmin):
    list_display = ["provider_name", "currency", "valid_from", "rate", "included_in_price"]
    list_filter = ["included_in_price", "currency"]
    search_fields = ["provider_name"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in VAT_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in fields.items() if name in form.changed_data}
            vat_rule_update(actor=request.user, rule=obj, **changed)
        else:
            obj.pk = vat_rule_create(actor=request.user, **fields).pk

    def delete_model(self, request, obj):
        vat_rule_delete(actor=request.user, rule=obj)


class ProviderPriceForm(forms.ModelForm):
    class Meta:
        model = ProviderPrice
        fields = PRICE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from providers.adapters.registry import provider_specs
        from providers.services.estimates import estimates_only

        self.fields["provider"] = forms.ChoiceField(
            label=_("provider"),
            choices=[(s.key, s.name) for s in provider_specs() if estimates_only(s)],
        )

    def clean_currency(self):
        from providers.focus.currencies import ISO_4217

        code = (self.cleaned_data.get("currency") or "").strip().upper()
        if code not in ISO_4217:
            raise ValidationError(_("Give an ISO 4217 currency code."))
        return code

    def clean_price(self):
        price = self.cleaned_data.get("price")
        if price is not None and price < 0:
            raise ValidationError(_("A price cannot be negative."))
        return price


@admin.register(ProviderPrice)
class ProviderPriceAdmin(PlatformDataAdmin):
    """The price lists estimates are computed with (providers without a cost API). A new price
    from a later date is a new version; the old one stays in force for the days before."""

    form = ProviderPriceForm
    list_display = [
        "provider",
        "resource_type",
        "metric",
        "variant",
        "valid_from",
        "price",
        "currency",
    ]
    list_filter = ["provider", "resource_type", "metric"]
    search_fields = ["variant", "note"]
    date_hierarchy = "valid_from"

    def save_model(self, request, obj, form, change):
        fields = {n: form.cleaned_data[n] for n in PRICE_FIELDS if n in form.cleaned_data}
        if change:
            changed = {n: v for n, v in fields.items() if n in form.changed_data}
            provider_price_update(actor=request.user, entry=obj, **changed)
        else:
            obj.pk = provider_price_create(actor=request.user, **fields).pk

    def delete_model(self, request, obj):
        provider_price_delete(actor=request.user, entry=obj)
