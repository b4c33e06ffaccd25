"""Filters whose values PostgreSQL and the API schema can always take (API and portal lists).

- ``UtcDateTimeFilter``: ISO 8601 allows offsets up to ±23:59, PostgreSQL refuses past ±15:59
  ("time zone displacement out of range", a 500). Every instant is converted to UTC here; one
  that leaves the calendar doing so (9999-12-31T23:00-05:00) is a 400.
- ``IntegerFilter``: an id or count; ``0.5`` is refused instead of being compared as a decimal.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


class UtcIsoDateTimeField(IsoDateTimeField):
    default_error_messages = {
        "out_of_range": _("Enter a date/time that stays within years 1-9999 in UTC."),
    }

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


@extend_schema_field(OpenApiTypes.INT)  # "number" otherwise, when no model field says int
class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField
