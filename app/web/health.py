from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from app.core.db import get_engine
from app.core.queue import celery_client

router = APIRouter(tags=["health"])
FAVICON = Path(__file__).resolve().parents[2] / "static" / "favicon.svg"


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> str | None:
    try:
        with get_engine().execution_options(sqlite_deferred=True).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database: {type(exc).__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_client().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker: {type(exc).__name__}"
    return None


@router.get("/readyz")
async def readyz() -> JSONResponse:
    failures = [
        f for f in (await run_in_threadpool(_check_database), await run_in_threadpool(_check_broker)) if f
    ]
    if failures:
        return JSONResponse({"status": "unavailable", "failing": failures}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Pages link /static/favicon.svg; browsers still ask for /favicon.ico where nothing is linked (the API
    docs, a JSON answer opened in a tab)."""
    return FileResponse(FAVICON, media_type="image/svg+xml")
