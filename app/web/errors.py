"""Domain errors mapped to HTTP in one place: JSON problem detail for /api, a toast for htmx,
a login redirect or an error page otherwise."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.core.errors import ImportRejected, NotAuthenticated, PreflabError
from app.web.shedding import RETRY_AFTER_S
from app.web.templating import is_htmx, render

log = logging.getLogger(__name__)


def _is_api(request: Request) -> bool:
    """/api, and the pages' own fetch calls, which send JSON and read the problem detail back (the annotate
    page says why a submit was refused; an HTML error page would leave it only the status)."""
    return request.url.path.startswith("/api/") or request.headers.get("content-type", "").startswith(
        "application/json"
    )


def _problem(status: int, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)


def _page_error(request: Request, status: int, message: str) -> Response:
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": f"/login?next={quote(target)}"})
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if is_htmx(request):
        return render(
            request,
            "partials/toast.html",
            {"message": message, "level": "error"},
            status_code=status,
            headers={"HX-Reswap": "none"},
        )
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(PreflabError)
    async def _domain(request: Request, exc: PreflabError) -> Response:
        if _is_api(request):
            if isinstance(exc, ImportRejected):
                return _problem(exc.status_code, exc.message, errors=exc.errors, error_count=exc.total_errors)
            return _problem(exc.status_code, exc.message, **exc.extra)
        if isinstance(exc, NotAuthenticated):
            return _page_error(request, 401, exc.message)
        return _page_error(request, exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        if _is_api(request):
            return _problem(
                422,
                "the request is not valid: "
                + "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['message']}" for e in errors
                ),
                errors=errors,
            )
        return _page_error(request, 422, "; ".join(e["message"] for e in errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path.startswith("/static/"):
            return _problem(exc.status_code, str(exc.detail))
        return _page_error(request, exc.status_code, str(exc.detail))

    # No connection within PREFLAB_DB_POOL_TIMEOUT_S, a statement past its timeout, a connection ended
    # (idle in transaction too long, the database restarting): the request is refused, not failed, and
    # the client told when to come back.
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database_busy(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        message = f"the database is busy or unavailable; try again in {RETRY_AFTER_S} s"
        response = _problem(503, message) if _is_api(request) else _page_error(request, 503, message)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    # A value the schema let through but the column cannot hold (PostgreSQL's "bigint out of range",
    # "value too long for type character varying(200)"; sqlite3's int past 64 bits): the request's fault.
    # The schemas bound what they can; this is the net under them, so no such request is ever a 500.
    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "a value does not fit its field"
        return _refused_value(request, reason)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        if "SQLite INTEGER" not in str(exc):
            raise exc
        return _refused_value(request, "a number is too large for an id or a count")


def _refused_value(request: Request, reason: str) -> Response:
    message = f"the request is not valid: {reason}"
    return _problem(422, message) if _is_api(request) else _page_error(request, 422, message)
