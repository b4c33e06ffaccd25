"""The portal's add/edit form for a cloud connection, generated from the provider's declaration.

The credential and scope fields come from ``ProviderSpec`` (``providers.connection_fields``):
what a customer types (tokens, logins, a key file pasted or uploaded; ids separated by commas)
becomes the service's arguments, validated by the provider's own validator so that mistakes are
explained next to the right field. The services stay the enforcing layer.

Credentials are write-only: neither the stored secret (it is never decrypted here) nor what was
typed is ever rendered back, even when the form is shown again with errors.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from providers.adapters.registry import provider_spec, provider_specs
from providers.connection_fields import ProviderFields
from providers.models import Connection

INTERVALS = [
    (15 * 60, _("Every 15 minutes")),
    (30 * 60, _("Every 30 minutes")),
    (60 * 60, _("Every hour")),
    (3 * 3600, _("Every 3 hours")),
    (6 * 3600, _("Every 6 hours")),
    (12 * 3600, _("Every 12 hours")),
    (24 * 3600, _("Once a day")),
]
DEFAULT_INTERVAL = 60 * 60


def default_provider() -> str:
    return provider_specs()[0].key


def interval_label(seconds: int) -> str:
    for value, label in INTERVALS:
        if value == seconds:
            return str(label)
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("Every %(n)d hour", "Every %(n)d hours", hours) % {"n": hours}
    minutes = max(1, seconds // 60)
    return ngettext("Every %(n)d minute", "Every %(n)d minutes", minutes) % {"n": minutes}


class ConnectionForm(ProviderFields, forms.Form):
    """Add or edit a connection of any declared provider: name, sync interval, and the
    provider's credential and scope fields."""

    name = forms.CharField(label=_("Name"), max_length=200)
    sync_interval = forms.TypedChoiceField(
        label=_("Sync"), coerce=int, choices=INTERVALS, initial=DEFAULT_INTERVAL
    )

    def __init__(
        self, *args, tenant, instance: Connection | None = None, provider: str | None = None, **kw
    ):
        self.tenant, self.instance = tenant, instance
        self.provider = instance.provider if instance else (provider or default_provider())
        if instance is not None and "initial" not in kw:
            kw["initial"] = {
                "name": instance.name,
                "sync_interval": int(instance.sync_interval.total_seconds()),
            }
        super().__init__(*args, **kw)
        self.add_provider_fields(
            provider_spec(self.provider),
            editing=instance is not None,
            scope=instance.scope if instance is not None else None,
        )
        if instance is not None:
            seconds = int(instance.sync_interval.total_seconds())
            if seconds not in dict(INTERVALS):  # an interval an operator set elsewhere stays
                self.fields["sync_interval"].choices = sorted(
                    [*INTERVALS, (seconds, interval_label(seconds))]
                )

    @property
    def has_credentials(self) -> bool:
        return bool(self.spec and self.spec.credential_fields)

    @property
    def has_scope(self) -> bool:
        return bool(self.spec and self.spec.scope_options)

    def credential_groups(self) -> list[dict]:
        """The declared groups with their bound fields, for the template."""
        groups = []
        for group in self.spec.credential_groups:
            bound = []
            for spec_field in group.fields:
                bound.append(self[spec_field.name])
                if spec_field.upload_name:
                    bound.append(self[spec_field.upload_name])
            groups.append({"group": group, "fields": bound})
        return groups

    def scope_fields(self) -> list:
        return [self[option.name] for option in self.spec.scope_options]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Connection.objects.for_tenant(self.tenant).filter(name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("This organisation already has a connection with this name."))
        return name

    def clean(self):
        cleaned = super().clean()
        self.clean_provider_fields(cleaned)
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {
            "name": data["name"],
            "sync_interval": timedelta(seconds=data["sync_interval"]),
        }
        if self.has_scope:
            kwargs["scope"] = data["scope"]
        return kwargs

    def apply_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError next to the field it is about."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = self.service_error_target(field)
            if target == NON_FIELD_ERRORS or target not in self.fields:
                target = None
            self.add_error(target, errors)
