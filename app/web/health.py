"""Liveness and readiness. Both answer while the app is saturated (issue 18, finding 16): they bypass
load shedding (app/web/shedding.py), /healthz touches nothing and runs on the event loop, and /readyz
checks the database on a connection and in threads of its own, with short timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import text

from app.core.db import get_health_engine
from app.core.queue import celery_client

router = APIRouter(tags=["health"])
FAVICON = Path(__file__).resolve().parents[2] / "static" / "favicon.svg"
CHECK_TIMEOUT_S = 3.0
# Not the shared thread pool: requests waiting on the database may hold every thread of that one.
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> str | None:
    try:
        with get_health_engine().execution_options(sqlite_deferred=True).connect() as conn:
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


async def _within_timeout(check: Callable[[], str | None], name: str) -> str | None:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(_checks, check), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"{name}: no answer within {CHECK_TIMEOUT_S:g} s"


@router.get("/readyz")
async def readyz() -> JSONResponse:
    results = await asyncio.gather(
        _within_timeout(_check_database, "database"), _within_timeout(_check_broker, "broker")
    )
    failures = [f for f in results if f]
    if failures:
        return JSONResponse({"status": "unavailable", "failing": failures}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Pages link /static/favicon.svg; browsers still ask for /favicon.ico where nothing is linked (the API
    docs, a JSON answer opened in a tab)."""
    return FileResponse(FAVICON, media_type="image/svg+xml")
