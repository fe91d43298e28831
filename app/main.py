"""create_app(): routers, middleware, exception handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.config import get_settings
from app.core.db import check_pool_fits, use_request_timeouts
from app.web import api_docs, errors, health
from app.web.api.v1 import accounts as api_accounts
from app.web.api.v1 import auth as api_auth
from app.web.api.v1 import comments as api_comments
from app.web.api.v1 import credentials as api_credentials
from app.web.api.v1 import data_manager as api_data_manager
from app.web.api.v1 import jobs as api_jobs
from app.web.api.v1 import labeling as api_labeling
from app.web.api.v1 import loop as api_loop
from app.web.api.v1 import prelabel as api_prelabel
from app.web.api.v1 import projects as api_projects
from app.web.api.v1 import quality as api_quality
from app.web.api.v1 import snapshots as api_snapshots
from app.web.api.v1 import tasks as api_tasks
from app.web.api.v1 import training as api_training
from app.web.deps import refuse_nul_in_json
from app.web.pages import (
    account,
    admin_accounts,
    annotate,
    credentials,
    exports,
    jobs,
    projects,
    quality,
    training,
)
from app.web.pages import auth as pages_auth
from app.web.pages import chat as pages_chat
from app.web.pages import comments as pages_comments
from app.web.pages import data_manager as pages_data_manager
from app.web.pages import links as pages_links
from app.web.pages import loop as pages_loop
from app.web.pages import media as pages_media
from app.web.pages import prelabel as pages_prelabel
from app.web.pages.deps import check_csrf
from app.web.security_headers import SecurityHeadersMiddleware
from app.web.shedding import LoadShedding
from app.web.uploads import FORM_MAX_FIELDS, FORM_MAX_FILES

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
VERSION = "0.1.0"


class _Preflab(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware (which add_middleware cannot reach): the security headers
        # reach every answer, an unhandled error's 500 too.
        return SecurityHeadersMiddleware(super().build_middleware_stack())


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Every web process checks that all of them together fit the database's max_connections.
    problem = check_pool_fits(settings.web_processes)
    if problem:
        raise RuntimeError(f"the database connection pools do not fit: {problem}")
    # Every request admitted (app/web/shedding.py) finds a thread for its queries and its commit: a
    # transaction never waits for a thread while it holds locks, and static files still have some.
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = max(limiter.total_tokens, settings.resolved_max_inflight + 10)
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    use_request_timeouts()
    app = _Preflab(
        lifespan=lifespan,
        title="Preflab",
        version=VERSION,
        docs_url=None,  # app/web/api_docs.py serves /api/docs from local assets
        openapi_url="/api/v1/openapi.json",
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
        form_limits={"max_fields": FORM_MAX_FIELDS, "max_files": FORM_MAX_FILES},
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key,
        session_cookie="preflab_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )
    # Outside the session, so a request refused for load costs no session decoding.
    app.add_middleware(LoadShedding, max_inflight=settings.resolved_max_inflight)
    if settings.trusted_proxy_list:
        # Outermost, so every layer sees the client and scheme the proxy forwarded. Only these peers'
        # X-Forwarded-For / -Proto are read; uvicorn's own reading (which trusts loopback by default) is
        # turned off where Preflab starts uvicorn (`preflab serve`, the Dockerfile, docker-compose).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    errors.install(app)

    # Routers are included one level deep: every extra level of nesting is walked on each request.
    # The annotation loop comes first, so its routes match first.
    for module in (
        api_labeling,
        api_auth,
        api_accounts,
        api_credentials,
        api_projects,
        api_tasks,
        api_data_manager,
        api_jobs,
        api_snapshots,
        api_training,
        api_quality,
        api_prelabel,
        api_loop,
        api_comments,
    ):
        app.include_router(module.router, prefix="/api/v1", dependencies=[Depends(refuse_nul_in_json)])
    for module in (
        pages_auth,
        projects,
        pages_data_manager,
        annotate,
        jobs,
        exports,
        training,
        quality,
        pages_prelabel,
        pages_loop,
        account,
        admin_accounts,
        pages_links,
        credentials,
        pages_comments,
        pages_chat,
        pages_media,
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
