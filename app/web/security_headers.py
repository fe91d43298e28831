"""Security headers on every answer: pages, API, static files, errors, redirects.

The Content-Security-Policy allows no inline script or style at all: every behaviour lives in static/*.js
(data- attributes and event delegation, no `on…=` attributes, no `hx-on`, no `javascript:` URLs) and every
style in static/app.css; htmx runs with `allowEval` off and its indicator styles in app.css (base.html's
htmx-config). tests/web/test_security_headers.py keeps templates/ free of inline code, and
tests/browser/test_csp.py loads the main pages in Chromium and counts violations.

A pure ASGI middleware (not BaseHTTPMiddleware): it only adds headers to `http.response.start`, so streamed
answers (exports, downloads) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(image_hosts: Iterable[str] = ()) -> str:
    """The policy; a page of a project whose `image_hosts` setting names hosts lets images come from them
    too (any port, http or https), as its Markdown does (app/web/templating.py)."""
    images = " ".join(f"http://{host}:* https://{host}:*" for host in sorted(set(image_hosts)))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data:{' ' + images if images else ''}",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()
# A year; no includeSubDomains or preload: an instance may live on a sub-domain of a site it does not own.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"

_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
_HSTS = (b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode())


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer; HSTS only when the request came over https (the scheme as
    the server sees it, so behind a proxy as the server's proxy settings make it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # the scheme read now, not on the way in: a proxy middleware inside may have set it since
                extra = [*_HEADERS, _HSTS] if scope.get("scheme") == "https" else _HEADERS
                present = {name.lower() for name, _ in message.get("headers", [])}
                # an answer that sets one itself keeps its own (a page of a project with image hosts)
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
