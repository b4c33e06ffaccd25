"""Request bodies larger than any upload we accept are refused before anything reads them.

Django spools file parts to disk without a total limit, and the CSRF check parses a multipart
body before any view could look at its size; so the declared length is checked first, for the
admin, the portal and the API alike (``REQUEST_BODY_MAX_BYTES``: the largest cost file, see
``COST_FILE_MAX_MB``, plus form overhead). Bodies kept in memory (forms, JSON, base64 uploads)
stay bounded by Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _


def body_too_large_message(size: int, limit: int) -> str:
    return _(
        "The request body has %(size)d bytes, more than the %(limit)d accepted; a cost file may "
        "have at most %(mb)d MB (setting COST_FILE_MAX_MB)."
    ) % {"size": size, "limit": limit, "mb": settings.COST_FILE_MAX_MB}


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0  # Django reads no body from an unreadable length either
        limit = settings.REQUEST_BODY_MAX_BYTES
        if size > limit:
            message = body_too_large_message(size, limit)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
