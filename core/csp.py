"""Content-Security-Policy for the admin and the portal (Django 5.2 has none built in).

Both are server-rendered with scripts and styles from our own static files only (the portal's
JavaScript is progressive enhancement in static/portal/portal.js; no inline <script> or style
attributes), so the policy allows 'self' and nothing inline: an injected <script> or event handler
does not run. Pages are never framed.

The API docs (Swagger UI, Redoc) get a policy of their own: their scripts are our static files too
(drf-spectacular-sidecar, Swagger's init script served as a file by the split view), but both
libraries set inline styles and Redoc runs a blob: worker, so only styles may be inline there.
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)
        self.prefixes = tuple(getattr(settings, "CONTENT_SECURITY_POLICY_PATHS", ()))
        self.docs_policy = getattr(settings, "CONTENT_SECURITY_POLICY_DOCS", DOCS_POLICY)
        self.docs_prefixes = tuple(getattr(settings, "CONTENT_SECURITY_POLICY_DOCS_PATHS", ()))

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and request.path.startswith(self.prefixes):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        elif self.docs_policy and request.path.startswith(self.docs_prefixes):
            response.headers.setdefault("Content-Security-Policy", self.docs_policy)
        return response
