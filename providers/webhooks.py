"""Signed webhook: a customer's system asks for an immediate sync of one connection.

Not an API-token endpoint: the caller proves knowledge of the connection's webhook secret (shown
once, when the connection was created) with an HMAC signature instead of logging in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core import context, replay
from core.middleware import client_ip
from core.models import AuditEvent
from providers.models import Connection
from providers.services.connections import connection_request_sync, webhook_secret

SIGNATURE_HEADER = "X-InfraZen-Signature"
TIMESTAMP_HEADER = "X-InfraZen-Timestamp"
TOLERANCE_S = 300
# ASCII digits only (str.isdigit() also takes "²"), and few enough to stay a sane Unix time.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Compared against when the connection does not exist, so that path costs the same HMAC work.
_DUMMY_SECRET = "unknown-connection-" + "0" * 32


SIGNATURE_PARAMETERS = [
    OpenApiParameter(
        SIGNATURE_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description='"sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed '
        "with the connection's webhook secret.",
    ),
    OpenApiParameter(
        TIMESTAMP_HEADER,
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        required=True,
        description="Unix time in seconds; refused when more than 5 minutes off.",
    ),
]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a sender puts in ``X-InfraZen-Signature`` (also used by tests and docs)."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _error(message: str, code: int) -> Response:
    return Response({"detail": message}, status=code)


def verified_connection(request, pk: int) -> tuple[Connection | None, Response | None]:
    """The connection whose webhook secret signed this request, or the refusal to answer:
    401 missing, malformed, stale or wrong signature · 404 no such connection · 409 disabled."""
    body = request.body  # the raw bytes, read before anything parses them
    signature = request.headers.get(SIGNATURE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature.startswith("sha256=") or not _TIMESTAMP.fullmatch(timestamp):
        return None, _error(
            f"Sign the request: {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of "
            f'"<timestamp>.<body>"> and {TIMESTAMP_HEADER}: <unix seconds>.',
            status.HTTP_401_UNAUTHORIZED,
        )
    if abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return None, _error(
            "The timestamp is more than 5 minutes from the server's clock; sign again.",
            status.HTTP_401_UNAUTHORIZED,
        )

    connection = Connection.objects.select_related("tenant").filter(pk=pk).first()
    secret = webhook_secret(connection) if connection is not None else _DUMMY_SECRET
    valid = hmac.compare_digest(sign(secret, timestamp, body), signature)
    if connection is None:
        return None, _error("No such connection.", status.HTTP_404_NOT_FOUND)
    if not valid:
        return None, _error("The signature does not match.", status.HTTP_401_UNAUTHORIZED)
    if not connection.is_enabled:
        return None, _error(
            "This connection is disabled; enable it first.", status.HTTP_409_CONFLICT
        )
    return connection, None


class ConnectionWebhookView(APIView):
    """Request an immediate sync of a connection: `POST /webhooks/connections/<id>/`.

    Signing (like Stripe/Slack webhooks): let `ts` be the current Unix time in whole seconds and
    `body` the raw request body (any content, may be empty). Send

    - `X-InfraZen-Timestamp: <ts>`
    - `X-InfraZen-Signature: sha256=<hex HMAC-SHA256(key=webhook secret, msg=ts + "." + body)>`

    The timestamp is part of the signed message, so a captured call cannot be replayed with a
    fresh timestamp; calls more than 5 minutes from the server clock are refused, and a repeated
    delivery (same signature) inside that window is accepted without queueing another sync.

    Answers: 202 sync requested · 401 missing, malformed, stale or wrong signature · 404 no such
    connection · 409 the connection is disabled.
    """

    authentication_classes: list = []  # no session, so no CSRF; the signature authenticates
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=SIGNATURE_PARAMETERS,
        responses={
            202: OpenApiResponse(description="Sync requested."),
            401: OpenApiResponse(description="Missing, stale or wrong signature."),
            404: OpenApiResponse(description="No such connection."),
            409: OpenApiResponse(description="The connection is disabled."),
        },
        auth=[],
        tags=["webhooks"],
    )
    def post(self, request, pk: int):
        connection, refusal = verified_connection(request, pk)
        if refusal is not None:
            return refusal
        signature = request.headers.get(SIGNATURE_HEADER, "")

        # First delivery of this exact signature wins, in whichever process or machine it lands;
        # retries of it get the same answer. Claims outlive the timestamp window, so a replay is
        # either stale or still remembered.
        scope = f"webhook:{connection.pk}"
        if not replay.claim_once(scope, signature, dt.timedelta(seconds=2 * TOLERANCE_S)):
            return Response({"detail": "Already accepted."}, status=status.HTTP_202_ACCEPTED)
        # The request middleware labels unknown paths "portal"; this is a machine API call.
        with context.acting(
            AuditEvent.Source.API,
            request_id=getattr(request, "id", None),
            ip_address=client_ip(request),
        ):
            try:
                connection_request_sync(actor=None, connection=connection, trigger="webhook")
            except ValidationError:  # the service's own refusal (disabled meanwhile)
                replay.release(scope, signature)
                return _error(
                    "This connection is disabled; enable it first.", status.HTTP_409_CONFLICT
                )
        return Response({"detail": "Sync requested."}, status=status.HTTP_202_ACCEPTED)


class ResourceRefreshWebhookView(APIView):
    """Refresh one resource of a connection now: `POST /webhooks/connections/<id>/refresh/`.

    Signed exactly like the sync webhook (same headers, same secret, same replay protection).
    The body is JSON naming the resource by the provider's id: `{"resource_id": "fhm..."}`.
    Only that resource is read from the provider and applied as a sync applies it (updated, or
    marked deleted when the provider no longer has it); nothing is listed.

    Answers: 202 refresh queued · 400 a bad body (the field is named) · 401 signature · 404 no
    such connection, or no such resource in it · 409 the connection is disabled or its provider
    cannot read one resource alone.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {"resource_id": {"type": "string", "maxLength": 255}},
                "required": ["resource_id"],
            }
        },
        parameters=SIGNATURE_PARAMETERS,
        responses={
            202: OpenApiResponse(description="Refresh queued."),
            400: OpenApiResponse(description='The body is not {"resource_id": "..."}.'),
            401: OpenApiResponse(description="Missing, stale or wrong signature."),
            404: OpenApiResponse(description="No such connection or resource."),
            409: OpenApiResponse(description="Disabled, or the provider cannot refresh one."),
        },
        auth=[],
        tags=["webhooks"],
    )
    def post(self, request, pk: int):
        connection, refusal = verified_connection(request, pk)
        if refusal is not None:
            return refusal
        provider_id, problem = _resource_id_from(request.body)
        if problem:
            return Response({"resource_id": [problem]}, status=status.HTTP_400_BAD_REQUEST)
        from providers.models import Resource
        from providers.services.refresh import refreshes_resources, resource_request_refresh

        if not refreshes_resources(connection):
            return _error(
                "This provider cannot refresh a single resource; request a sync instead.",
                status.HTTP_409_CONFLICT,
            )
        # Looked up in this connection only: an id of another connection or tenant is as
        # unknown as one that never existed.
        resource = Resource.objects.filter(
            tenant_id=connection.tenant_id, connection=connection, provider_id=provider_id
        ).first()
        if resource is None:
            return _error("No such resource in this connection.", status.HTTP_404_NOT_FOUND)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        scope = f"webhook-refresh:{connection.pk}"
        if not replay.claim_once(scope, signature, dt.timedelta(seconds=2 * TOLERANCE_S)):
            return Response({"detail": "Already accepted."}, status=status.HTTP_202_ACCEPTED)
        with context.acting(
            AuditEvent.Source.API,
            request_id=getattr(request, "id", None),
            ip_address=client_ip(request),
        ):
            resource_request_refresh(actor=None, resource=resource, trigger="webhook")
        return Response({"detail": "Refresh requested."}, status=status.HTTP_202_ACCEPTED)


def _resource_id_from(body: bytes) -> tuple[str, str]:
    """(provider id, "") or ("", what is wrong with the body, in words)."""
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return "", 'The body must be JSON: {"resource_id": "<the provider\'s id>"}.'
    if not isinstance(payload, dict) or "resource_id" not in payload:
        return "", "This field is required."
    value = payload["resource_id"]
    if not isinstance(value, str) or not value.strip():
        return "", "Must be a non-empty string: the resource's id at the provider."
    if len(value) > 255 or any(ord(ch) < 32 for ch in value):
        return "", "Not a resource id: at most 255 printable characters."
    return value.strip(), ""
