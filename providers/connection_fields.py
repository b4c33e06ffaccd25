"""Connection form fields generated from a provider's declaration (``ProviderSpec``).

The admin and the portal build their connection forms with ``ProviderFields``: one form field
per declared credential field (secrets as write-only inputs, JSON key files as a text area plus
an optional upload) and per scope option (lists of ids as comma-separated text), and a ``clean``
step that turns what was typed into the ``credentials`` and ``scope`` the services take,
validated by the provider's own validator so that mistakes are explained next to the field they
concern. The services stay the enforcing layer; this only explains early.

Credentials are write-only: no widget ever renders a value back, neither the stored secret
(never decrypted for a form) nor what was typed when the form is shown again with errors.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from providers.adapters.spec import (
    CredentialField,
    FieldKind,
    ProviderSpec,
    SettingsInvalid,
    split_ids,
)

# A key file is about 2 KB; anything much bigger is not one.
MAX_UPLOAD_BYTES = 64 * 1024


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: a pasted key stays off the page even when the form is redisplayed."""

    def format_value(self, value):
        return None


class WriteOnlyTextInput(forms.TextInput):
    """A visible text input that never renders a value back (a login next to its password is
    harmless, but a credential typed into a failed form is not shown again either)."""

    def format_value(self, value):
        return None


class IdListField(forms.CharField):
    """Ids separated by commas, spaces or new lines; cleans to a list (order kept, no repeats)."""

    def to_python(self, value):
        return split_ids(super().to_python(value))

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


def credential_form_field(spec_field: CredentialField) -> forms.Field:
    attrs = {"autocomplete": "off", "spellcheck": "false"}
    if spec_field.placeholder or spec_field.default:
        attrs["placeholder"] = spec_field.placeholder or spec_field.default
    if spec_field.kind == FieldKind.SECRET:
        widget = forms.PasswordInput(
            render_value=False, attrs={**attrs, "autocomplete": "new-password"}
        )
    elif spec_field.kind == FieldKind.JSON:
        widget = WriteOnlyTextarea(attrs={**attrs, "rows": 4})
    else:
        widget = WriteOnlyTextInput(attrs=attrs)
    return forms.CharField(
        label=spec_field.label,
        required=False,
        strip=spec_field.kind != FieldKind.SECRET,
        max_length=spec_field.max_length,
        widget=widget,
        help_text=spec_field.help_text,
    )


class ProviderFields:
    """Mixin for a ``forms.Form``/``ModelForm``: ``add_provider_fields(spec)`` in ``__init__``,
    ``clean_provider_fields(cleaned)`` in ``clean``."""

    spec: ProviderSpec | None = None
    editing: bool = False
    # The form field credential errors are shown at when the validator names none.
    credentials_field: str | None = None

    def add_provider_fields(self, spec: ProviderSpec, *, editing: bool, scope=None) -> None:
        self.spec, self.editing = spec, editing
        for spec_field in spec.credential_fields:
            self.fields[spec_field.name] = credential_form_field(spec_field)
            if spec_field.kind == FieldKind.JSON and spec_field.upload_name:
                self.fields[spec_field.upload_name] = forms.FileField(
                    label=_("…or upload the file"),
                    required=False,
                    widget=forms.FileInput(attrs={"accept": ".json,application/json"}),
                )
        for option in spec.scope_options:
            field_class = IdListField if option.kind == "list" else forms.CharField
            self.fields[option.name] = field_class(
                label=option.label, required=False, max_length=4000, help_text=option.help_text
            )
            if scope and option.name in scope:
                self.initial.setdefault(option.name, scope[option.name])
        first = spec.credential_fields[0].name if spec.credential_fields else None
        self.credentials_field = first
        if editing and first:
            self.fields[first].help_text = _("Leave the credentials empty to keep the stored ones.")

    # -- reading what was typed ------------------------------------------------------------------

    @property
    def credential_field_names(self) -> list[str]:
        if self.spec is None:
            return []
        names = []
        for spec_field in self.spec.credential_fields:
            names.append(spec_field.name)
            if spec_field.upload_name:
                names.append(spec_field.upload_name)
        return names

    def typed_credentials(self) -> bool:
        """Whether the submitted data holds any credential (for the "type them again" notice)."""
        data, files = getattr(self, "data", {}), getattr(self, "files", {})
        return any(data.get(name) for name in self.credential_field_names) or any(
            files.get(name) for name in self.credential_field_names
        )

    def clean_provider_fields(self, cleaned: dict) -> None:
        """Set ``cleaned["credentials"]`` (None: keep the stored ones, when editing) and
        ``cleaned["scope"]``; errors go next to the fields they are about."""
        spec = self.spec
        if spec is None:
            return
        cleaned["credentials"] = self._credentials(spec, cleaned)
        cleaned["scope"] = {
            option.name: cleaned[option.name]
            for option in spec.scope_options
            if cleaned.get(option.name) not in (None, "", [])
        }

    def _credentials(self, spec: ProviderSpec, cleaned: dict) -> dict | None:
        values: dict[str, str] = {}
        for spec_field in spec.credential_fields:
            text = cleaned.get(spec_field.name) or ""
            if spec_field.kind == FieldKind.JSON and spec_field.upload_name:
                upload = cleaned.get(spec_field.upload_name)
                if upload and text.strip():
                    self.add_error(
                        spec_field.upload_name, _("Paste it or upload its file, not both.")
                    )
                    return None
                if upload:
                    text = self._read_upload(spec_field.upload_name, upload)
                    if text is None:
                        return None
            values[spec_field.name] = text
        typed = [name for name, value in values.items() if value.strip()]
        if self.editing and not typed:
            return None  # empty keeps the stored credentials
        if typed:
            first = spec.credential_field(typed[0])
            self.credentials_field = (
                first.upload_name
                if first.upload_name and cleaned.get(first.upload_name)
                else first.name
            )
        if spec.credential_alternatives:
            used = [g for g in spec.credential_groups if any(f.name in typed for f in g.fields)]
            if len(used) > 1:
                second = next(f for f in used[1].fields if f.name in typed)
                self._credential_error(
                    SettingsInvalid(
                        _("Give either %(a)s or %(b)s, not both.")
                        % {"a": used[0].label, "b": used[1].label},
                        field=second.name,
                    ),
                    cleaned,
                )
                return None
        try:
            credentials = spec.credentials_from_form(values)
            spec.clean_credentials(credentials)
        except SettingsInvalid as exc:
            self._credential_error(exc, cleaned)
            return None
        return credentials

    def _read_upload(self, name: str, upload) -> str | None:
        if upload.size > MAX_UPLOAD_BYTES:
            self.add_error(name, _("This file is too large to be a key file."))
            return None
        try:
            return upload.read().decode("utf-8-sig").strip()
        except UnicodeDecodeError:
            self.add_error(name, _("This file is not a text (JSON) file."))
            return None

    def _credential_error(self, exc: SettingsInvalid, cleaned: dict) -> None:
        target = exc.field if exc.field in self.fields else self.credentials_field
        # A key that came as a file: its errors belong next to the upload.
        spec_field = self.spec.credential_field(exc.field or "") if self.spec else None
        if (
            spec_field is not None
            and spec_field.upload_name
            and cleaned.get(spec_field.upload_name)
        ):
            target = spec_field.upload_name
        self.credentials_field = target
        self.add_error(target, exc.message)

    def service_error_target(self, field: str) -> str | None:
        """Where a service's ValidationError for ``field`` is shown."""
        if field == "credentials":
            return self.credentials_field
        return field if field in self.fields else None
