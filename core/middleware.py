"""Per-request action context: a request id, the client IP and which surface is used."""

from __future__ import annotations

import re
import uuid

from core import context

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def surface_for(path: str) -> str:
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return "portal"


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is trusted only behind a configured proxy (not yet).
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A caller's id is kept for correlation only if it is short and plain (it lands in logs).
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.id = request_id
        with context.acting(
            surface_for(request.path), request_id=request_id, ip_address=client_ip(request)
        ):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
