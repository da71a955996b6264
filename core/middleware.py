"""A strict Content-Security-Policy with a per-request nonce for inline scripts.

No CDN, no third-party script: everything is served from our origin. The basemap's tile origin
(IGN or OSM) is the only outside address allowed, for images only, and only when configured.
"""

import secrets

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        basemap = settings.BASEMAPS.get(settings.BASEMAP) or {}
        self.img_src = " ".join(filter(None, ["'self'", "data:", "blob:", basemap.get("origin")]))

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = (
                "default-src 'self'; "
                f"script-src 'self' 'nonce-{request.csp_nonce}'; "
                "style-src 'self' 'unsafe-inline'; "
                f"img-src {self.img_src}; "
                "connect-src 'self'; font-src 'self'; object-src 'none'; "
                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
            )
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        return response
