"""create_app(): routers, middleware, exception handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount

from app.core.config import get_settings
from app.web import api_docs, errors, health
from app.web.api.v1 import auth as api_auth
from app.web.api.v1 import jobs as api_jobs
from app.web.api.v1 import labeling as api_labeling
from app.web.api.v1 import loop as api_loop
from app.web.api.v1 import prelabel as api_prelabel
from app.web.api.v1 import projects as api_projects
from app.web.api.v1 import quality as api_quality
from app.web.api.v1 import snapshots as api_snapshots
from app.web.api.v1 import tasks as api_tasks
from app.web.api.v1 import training as api_training
from app.web.pages import account, annotate, exports, jobs, projects, quality, training
from app.web.pages import auth as pages_auth
from app.web.pages import loop as pages_loop
from app.web.pages import prelabel as pages_prelabel
from app.web.pages.deps import check_csrf

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
VERSION = "0.1.0"


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Preflab",
        version=VERSION,
        docs_url=None,  # app/web/api_docs.py serves /api/docs from local assets
        openapi_url="/api/v1/openapi.json",
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key,
        session_cookie="preflab_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )
    errors.install(app)

    # Routers are included one level deep: every extra level of nesting is walked on each request.
    # The annotation loop comes first, so its routes match first.
    for module in (
        api_labeling,
        api_auth,
        api_projects,
        api_tasks,
        api_jobs,
        api_snapshots,
        api_training,
        api_quality,
        api_prelabel,
        api_loop,
    ):
        app.include_router(module.router, prefix="/api/v1")
    for module in (
        pages_auth,
        projects,
        annotate,
        jobs,
        exports,
        training,
        quality,
        pages_prelabel,
        pages_loop,
        account,
    ):
        app.include_router(module.router, dependencies=[Depends(check_csrf)], include_in_schema=False)
    app.include_router(health.router)
    app.include_router(api_docs.router)
    STATIC_DIR.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def iter_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (method, path, endpoint) the app serves, through included routers at any depth."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps included routers as nodes
            yield from iter_routes(list(included.routes), prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield "GET", prefix + route.path, route.app
        elif isinstance(route, BaseRoute) and getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                yield method, prefix + route.path, getattr(route, "endpoint", None)  # type: ignore[attr-defined]
