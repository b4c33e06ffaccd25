"""OpenAPI post-processing for the allocation app's answers."""

from __future__ import annotations

# Components whose margin fields are left out for callers without ``view_margin``.
MARGIN_COMPONENTS = ("Invoice", "InvoiceLine")


def margin_fields_optional(result, generator, request, public):
    """Provider cost, markup and margin are only in the answer for MSP operators (customers
    never see them), so the schema must not promise them as required."""
    from allocation.api.serializers import MARGIN_FIELDS

    schemas = result.get("components", {}).get("schemas", {})
    for name in MARGIN_COMPONENTS:
        component = schemas.get(name)
        if component and "required" in component:
            component["required"] = [f for f in component["required"] if f not in MARGIN_FIELDS]
    return result
