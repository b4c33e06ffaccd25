"""OpenAPI: every operation documents the errors it can answer, not only its success.

Clients (and schema-driven testers such as schemathesis) need to know that a bad parameter is a
400 with field messages, a missing or refused token a 401/403, an unknown or foreign id a 404
and a throttled call a 429, each as JSON. An operation's own declarations win; these fill in
the rest.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    "Error",
    fields={"detail": serializers.CharField(help_text="What went wrong, for a person.")},
)
VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Invalid input: each offending field (or parameter) with its messages, e.g. "
    '`{"tenant": ["This field is required."]}`; `non_field_errors` or `detail` when no one '
    "field is to blame.",
)
AUTH_ERRORS = {
    "401": OpenApiResponse(
        ERROR, description="No credentials, or a token that is unknown, expired or revoked."
    ),
    "403": OpenApiResponse(
        ERROR,
        description="Authenticated, but the token's scope or the user's role does not allow this.",
    ),
}
NOT_FOUND = OpenApiResponse(
    ERROR,
    description="No such object among those you may see (other tenants' objects are "
    "answered the same way), or an invalid page or cursor.",
)
THROTTLED = OpenApiResponse(ERROR, description="Too many requests; retry after `Retry-After`.")


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        defaults = {"404": NOT_FOUND, "429": THROTTLED}
        if self._takes_input():
            defaults["400"] = VALIDATION_ERROR
        if self.get_auth():
            defaults.update(AUTH_ERRORS)
        for code, response in sorted(defaults.items()):
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return dict(sorted(responses.items()))

    def _takes_input(self) -> bool:
        if self.method in ("POST", "PUT", "PATCH"):
            return True
        return any(parameter["in"] != "path" for parameter in self._get_parameters())
