"""The interactive API docs (/api/docs): Swagger UI served from static/vendor, which scripts/copy-vendor.mjs
fills from npm, so the page works air-gapped (FastAPI's own page loads Swagger UI from a CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

DOCS_URL = "/api/docs"
_ASSETS = "/static/vendor/swagger-ui"

router = APIRouter()


@router.get(DOCS_URL, include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{_ASSETS}/favicon-32x32.png",
        # no badge asking validator.swagger.io about the schema
        swagger_ui_parameters={"validatorUrl": None},
    )
