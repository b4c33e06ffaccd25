"""The portal's add/edit form for a cloud connection (Yandex Cloud settings).

It turns what a customer types (an OAuth token, or a service-account authorized key pasted or
uploaded; ids separated by commas) into the service's arguments. The services stay the enforcing
layer: this form only catches mistakes early so they are explained next to the right field.

Credentials are write-only: neither the stored secret (it is never decrypted here) nor what was
typed is ever rendered back, even when the form is shown again with errors.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from cryptography.exceptions import UnsupportedAlgorithm
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from providers.adapters.yandex.ps256 import load_private_key
from providers.connection_settings import SCOPE_OPTIONS
from providers.models import Connection, ProviderType

# An authorized key file is about 2 KB; anything much bigger is not one.
MAX_KEY_FILE_BYTES = 64 * 1024
KEY_FIELDS = ("id", "service_account_id", "private_key")
SCOPE_FIELDS = ("organization_id", "cloud_ids", "folder_ids")
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
_ID_SEPARATORS = re.compile(r"[\s,;]+")


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: a pasted key stays off the page even when the form is redisplayed."""

    def format_value(self, value):
        return None


class IdListField(forms.CharField):
    """Cloud or folder ids separated by commas, spaces or new lines; cleans to a list."""

    def to_python(self, value):
        text = super().to_python(value)
        ids = [part for part in _ID_SEPARATORS.split(text) if part]
        return list(dict.fromkeys(ids))  # keep the order, drop repeats

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


def interval_label(seconds: int) -> str:
    for value, label in INTERVALS:
        if value == seconds:
            return str(label)
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("Every %(n)d hour", "Every %(n)d hours", hours) % {"n": hours}
    minutes = max(1, seconds // 60)
    return ngettext("Every %(n)d minute", "Every %(n)d minutes", minutes) % {"n": minutes}


class ConnectionForm(forms.Form):
    """Add (Yandex Cloud) or edit a connection. For a provider whose settings the portal does not
    know yet, editing is limited to the name and the sync interval."""

    name = forms.CharField(label=_("Name"), max_length=200)
    oauth_token = forms.CharField(
        label=_("OAuth token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}
        ),
        help_text=_("A Yandex account's OAuth token (starts with y0_)."),
    )
    key_json = forms.CharField(
        label=_("Service account authorized key"),
        required=False,
        widget=WriteOnlyTextarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "autocomplete": "off",
                "placeholder": '{"id": "…", "service_account_id": "…", "private_key": "…"}',
            }
        ),
        help_text=_("Paste the JSON of the key file created by: yc iam key create"),
    )
    key_file = forms.FileField(
        label=_("…or upload the key file"),
        required=False,
        widget=forms.FileInput(attrs={"accept": ".json,application/json"}),
    )
    organization_id = forms.CharField(label=_("Organization id"), required=False, max_length=100)
    cloud_ids = IdListField(label=_("Cloud ids"), required=False)
    folder_ids = IdListField(label=_("Folder ids"), required=False)
    sync_interval = forms.TypedChoiceField(
        label=_("Sync"), coerce=int, choices=INTERVALS, initial=DEFAULT_INTERVAL
    )

    def __init__(self, *args, tenant, instance: Connection | None = None, **kwargs):
        self.tenant, self.instance = tenant, instance
        provider = instance.provider if instance else ProviderType.YANDEX_CLOUD
        self.provider = provider
        if instance is not None and "initial" not in kwargs:
            seconds = int(instance.sync_interval.total_seconds())
            kwargs["initial"] = {
                "name": instance.name,
                "sync_interval": seconds,
                **{key: instance.scope.get(key) for key in SCOPE_FIELDS},
            }
        super().__init__(*args, **kwargs)
        self.credentials_field = "oauth_token"  # where credential errors are shown
        if provider != ProviderType.YANDEX_CLOUD:
            for key in ("oauth_token", "key_json", "key_file", *SCOPE_FIELDS):
                self.fields.pop(key)
        if instance is not None:
            seconds = int(instance.sync_interval.total_seconds())
            if seconds not in dict(INTERVALS):  # an interval an operator set elsewhere stays
                self.fields["sync_interval"].choices = sorted(
                    [*INTERVALS, (seconds, interval_label(seconds))]
                )
            if "oauth_token" in self.fields:
                self.fields["oauth_token"].help_text = _(
                    "Leave the credentials empty to keep the stored ones."
                )

    @property
    def has_credentials(self) -> bool:
        return "oauth_token" in self.fields

    @property
    def has_scope(self) -> bool:
        return bool(SCOPE_OPTIONS.get(self.provider))

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
        if self.has_credentials:
            cleaned["credentials"] = self._credentials(cleaned)
        if self.has_scope:
            cleaned["scope"] = {
                key: cleaned[key] for key in SCOPE_FIELDS if cleaned.get(key) not in (None, "", [])
            }
        return cleaned

    def _credentials(self, cleaned) -> dict | None:
        token = cleaned.get("oauth_token") or ""
        upload = cleaned.get("key_file")
        pasted = cleaned.get("key_json") or ""
        if upload and pasted.strip():
            self.add_error("key_file", _("Paste the key or upload its file, not both."))
            return None
        key_field = "key_file" if upload else "key_json"
        key_text = self._read_upload(upload) if upload else pasted.strip()
        if key_text is None:
            return None
        if token and key_text:
            self.credentials_field = key_field
            self.add_error(key_field, _("Give either an OAuth token or a key, not both."))
            return None
        if token:
            return {"oauth_token": token}
        if key_text:
            self.credentials_field = key_field
            return self._parse_key(key_field, key_text)
        if self.instance is None:
            self.add_error(
                "oauth_token", _("Enter an OAuth token or a service account authorized key.")
            )
        return None  # editing: empty keeps the stored credentials

    def _read_upload(self, upload) -> str | None:
        if upload.size > MAX_KEY_FILE_BYTES:
            self.add_error("key_file", _("This file is too large to be an authorized key."))
            return None
        try:
            return upload.read().decode("utf-8-sig").strip()
        except UnicodeDecodeError:
            self.add_error("key_file", _("This file is not a text (JSON) file."))
            return None

    def _parse_key(self, field: str, text: str) -> dict | None:
        # Error messages describe the problem, never echo the key.
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.add_error(
                field,
                _("This is not valid JSON (line %(line)s, column %(col)s).")
                % {"line": getattr(exc, "lineno", "?"), "col": getattr(exc, "colno", "?")},
            )
            return None
        if not isinstance(data, dict):
            self.add_error(field, _("The key must be a JSON object, as in the key file."))
            return None
        missing = [key for key in KEY_FIELDS if not isinstance(data.get(key), str) or not data[key]]
        if missing:
            self.add_error(
                field,
                _("The key is missing %(fields)s. Use the whole file from yc iam key create.")
                % {"fields": ", ".join(missing)},
            )
            return None
        try:
            load_private_key(data["private_key"])
        except (ValueError, TypeError, UnsupportedAlgorithm):
            self.add_error(field, _("The private key cannot be read (an RSA key in PEM expected)."))
            return None
        # Only what the adapter uses is stored (the public key and metadata are not needed).
        return {key: data[key] for key in KEY_FIELDS}

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
        targets = {"credentials": self.credentials_field, "scope": None, "endpoints": None}
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = targets.get(field, field)
            if target == NON_FIELD_ERRORS or target not in self.fields:
                target = None
            self.add_error(target, errors)
