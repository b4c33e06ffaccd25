"""Content-Security-Policy for the admin and the portal (Django 5.2 has none built in).

Both are server-rendered with scripts and styles from our own static files only (the portal's
JavaScript is progressive enhancement in static/portal/portal.js; no inline <script> or style
attributes), so the policy allows 'self' and nothing inline: an injected <script> or event handler
does not run. Pages are never framed. The API and its docs keep their own headers.
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


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)
        self.prefixes = tuple(getattr(settings, "CONTENT_SECURITY_POLICY_PATHS", ()))

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and request.path.startswith(self.prefixes):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
