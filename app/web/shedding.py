"""Load shedding (issue 18, finding 16): a web process serves at most PREFLAB_MAX_INFLIGHT requests at
once (by default as many as its database pool holds), and answers the rest at once with 503 and
Retry-After, before the pool runs dry and requests queue for connections, threads and each other's
locks. A pure ASGI middleware: a counter on the event loop, no thread, no database.

Health checks bypass it (/healthz touches nothing; /readyz has a connection and a thread of its own), and
so do static files, which never touch the database."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RETRY_AFTER_S = 1
BYPASS_PATHS = frozenset({"/healthz", "/readyz", "/favicon.ico"})
BYPASS_PREFIXES = ("/static/",)


class LoadShedding:
    def __init__(self, app: ASGIApp, *, max_inflight: int) -> None:
        self.app = app
        self.max_inflight = max_inflight
        self.inflight = 0
        self.shed = 0  # answered 503 since start (the bench and the tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in BYPASS_PATHS or path.startswith(BYPASS_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            self.shed += 1
            await _busy(scope, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


async def _busy(scope: Scope, send: Send) -> None:
    message = f"the server is busy; try again in {RETRY_AFTER_S} s"
    if scope["path"].startswith("/api/"):
        body, content_type = orjson.dumps({"detail": message}), b"application/json"
    else:
        body, content_type = message.encode(), b"text/plain; charset=utf-8"
    start: Message = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_S).encode()),
            (b"cache-control", b"no-store"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
