"""Portal forms for allocation. They validate input and offer only what the user may see (choices
come from ``for_user`` querysets of the current tenant); writes go through the services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from allocation.conditions import FIELDS, OPS, clean_conditions
from allocation.models import (
    DIMENSION_MODELS,
    BusinessUnit,
    CostCenter,
    Environment,
    Feature,
    Project,
    TagAlias,
    VirtualTag,
)
from core.access import visible_users
from core.models import Membership

User = get_user_model()
CONDITION_ROWS = 4
PARENT_MODELS = {"project": ("business_unit", BusinessUnit), "feature": ("project", Project)}
KIND_LABELS = {
    "business_unit": _("Business unit"),
    "project": _("Project"),
    "feature": _("Feature"),
    "environment": _("Environment"),
    "cost_center": _("Cost center"),
}


def scoped(model, user, tenant):
    return model.objects.for_user(user, "view").for_tenant(tenant)


def tenant_members(user, tenant):
    members = Membership.objects.filter(tenant=tenant).values("user_id")
    return visible_users(user).filter(pk__in=members).order_by("username")


class DimensionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.CharField(label=_("Code"), max_length=64, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, kind: str, user, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["owner"].queryset = tenant_members(user, tenant)
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        if kind in PARENT_MODELS:
            name, model = PARENT_MODELS[kind]
            self.fields[name] = forms.ModelChoiceField(
                label=KIND_LABELS[name], queryset=scoped(model, user, tenant).order_by("name")
            )
            self.order_fields(["name", name])

    @classmethod
    def initial_for(cls, dimension) -> dict:
        initial = {
            "name": dimension.name,
            "code": dimension.code,
            "description": dimension.description,
            "owner": dimension.owner_id,
        }
        for name, _model in PARENT_MODELS.values():
            if hasattr(dimension, f"{name}_id"):
                initial[name] = getattr(dimension, f"{name}_id")
        return initial


class TagAliasForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=TagAlias.Kind.choices)
    key = forms.CharField(
        label=_("Key"),
        max_length=200,
        required=False,
        help_text=_("For a value alias: the key whose values it renames."),
    )
    alias = forms.CharField(label=_("Alias"), max_length=200)
    canonical = forms.CharField(label=_("Becomes"), max_length=200)


class RequiredTagForm(forms.Form):
    key = forms.CharField(label=_("Required key"), max_length=200)
    description = forms.CharField(label=_("Why"), max_length=500, required=False)


class VirtualTagForm(forms.Form):
    key = forms.CharField(label=_("Virtual tag key"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)


class RuleForm(forms.Form):
    """A mapping rule: up to CONDITION_ROWS conditions (empty rows are ignored; values are
    separated by commas) and the targets."""

    name = forms.CharField(label=_("Name"), max_length=200)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=1,
        required=False,
        help_text=_("1 = tried first; empty: after the last rule."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    virtual_tag_value = forms.CharField(
        label=_("Virtual tag value"), max_length=200, required=False
    )
    virtual_tag_from_key = forms.CharField(
        label=_("…or copy from tag"), max_length=200, required=False
    )
    period = forms.RegexField(
        label=_("Preview month"),
        regex=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text=_("YYYY-MM; empty: last month."),
    )

    TARGETS = (
        ("business_unit", BusinessUnit),
        ("project", Project),
        ("feature", Feature),
        ("environment", Environment),
        ("cost_center", CostCenter),
        ("virtual_tag", VirtualTag),
    )

    def __init__(self, *args, user, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        for name, model in self.TARGETS:
            queryset = scoped(model, user, tenant)
            self.fields[name] = forms.ModelChoiceField(
                label=KIND_LABELS.get(name, _("Virtual tag")),
                queryset=queryset.order_by("key" if model is VirtualTag else "name"),
                required=False,
            )
        field_choices = [("", "—"), *((f.name, f.label) for f in FIELDS.values())]
        op_choices = [(name, label) for name, label in OPS.items()]
        for n in range(CONDITION_ROWS):
            self.fields[f"cond_{n}_field"] = forms.ChoiceField(
                label=_("Field"), choices=field_choices, required=False
            )
            self.fields[f"cond_{n}_key"] = forms.CharField(
                label=_("Tag key"), max_length=200, required=False
            )
            self.fields[f"cond_{n}_op"] = forms.ChoiceField(
                label=_("Test"), choices=op_choices, required=False
            )
            self.fields[f"cond_{n}_value"] = forms.CharField(
                label=_("Values"), max_length=2000, required=False
            )

    @property
    def condition_rows(self):
        return [
            [self[f"cond_{n}_{part}"] for part in ("field", "key", "op", "value")]
            for n in range(CONDITION_ROWS)
        ]

    @property
    def target_fields(self):
        return [self[name] for name, _model in self.TARGETS]

    def clean(self):
        cleaned = super().clean()
        conditions = []
        for n in range(CONDITION_ROWS):
            field = cleaned.get(f"cond_{n}_field")
            if not field:
                continue
            op = cleaned.get(f"cond_{n}_op") or "in"
            value = (cleaned.get(f"cond_{n}_value") or "").strip()
            item = {"field": field, "op": op}
            if field == "tag":
                item["key"] = (cleaned.get(f"cond_{n}_key") or "").strip()
            if op in ("in", "not_in"):
                values = [v.strip() for v in value.split(",") if v.strip()]
                if field == "connection":
                    try:
                        values = [int(v) for v in values]
                    except ValueError:
                        self.add_error(f"cond_{n}_value", _("Connection ids are numbers."))
                        continue
                item["values"] = values
            elif op in ("regex", "not_regex"):
                item["value"] = value
            conditions.append(item)
        try:
            cleaned["conditions"] = clean_conditions(conditions)
        except ValidationError as error:
            self.add_error(None, error.message_dict["conditions"])
        return cleaned

    def rule_fields(self) -> dict:
        data = self.cleaned_data
        fields = {
            name: data.get(name)
            for name in (
                "name",
                "enabled",
                "description",
                "virtual_tag_value",
                "virtual_tag_from_key",
                *(target for target, _model in self.TARGETS),
            )
        }
        fields["conditions"] = data.get("conditions", [])
        for text in ("description", "virtual_tag_value", "virtual_tag_from_key"):
            fields[text] = fields[text] or ""
        return fields

    @classmethod
    def initial_for(cls, rule) -> dict:
        initial = {
            "name": rule.name,
            "position": rule.position,
            "enabled": rule.enabled,
            "description": rule.description,
            "virtual_tag_value": rule.virtual_tag_value,
            "virtual_tag_from_key": rule.virtual_tag_from_key,
        }
        for name, _model in cls.TARGETS:
            initial[name] = getattr(rule, f"{name}_id")
        for n, condition in enumerate((rule.conditions or [])[:CONDITION_ROWS]):
            initial[f"cond_{n}_field"] = condition.get("field")
            initial[f"cond_{n}_key"] = condition.get("key", "")
            initial[f"cond_{n}_op"] = condition.get("op")
            if "values" in condition:
                initial[f"cond_{n}_value"] = ", ".join(map(str, condition["values"]))
            else:
                initial[f"cond_{n}_value"] = condition.get("value", "")
        return initial


class ScopeForm(forms.Form):
    """Which dimension values a member is limited to (none chosen anywhere: no limit)."""

    def __init__(self, *args, user, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        for key, model in DIMENSION_MODELS.items():
            self.fields[key] = forms.ModelMultipleChoiceField(
                label=KIND_LABELS[key],
                queryset=scoped(model, user, tenant).order_by("name"),
                required=False,
                widget=forms.SelectMultiple(attrs={"size": 4}),
            )

    def scope(self) -> dict[str, list[int]]:
        return {
            key: sorted(value.pk for value in self.cleaned_data[key])
            for key in DIMENSION_MODELS
            if self.cleaned_data.get(key)
        }
