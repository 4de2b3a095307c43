"""Security headers on every response (pages, admin, API, feeds, static files, errors)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

# No 'unsafe-inline' anywhere: templates carry no inline <script>, no style="" attributes.
# img-src allows https: for article images and the outlets' pictures; data: for tiny icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeadersMiddleware(MiddlewareMixin):
    """Listed first (outermost), so its values win over Django's defaults (Referrer-Policy).

    MiddlewareMixin makes it work natively under both WSGI and ASGI (uvicorn serves ASGI).
    """

    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        for name, value in HEADERS.items():
            response[name] = value
        return response
