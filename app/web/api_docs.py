"""The interactive API docs (/api/docs): Swagger UI served from static/vendor, which scripts/copy-vendor.mjs
fills from npm, so the page works air-gapped (FastAPI's own page loads Swagger UI from a CDN). The page is
templates/api_docs.html and static/api-docs.js starts Swagger UI: FastAPI's page starts it in an inline
script, which the Content-Security-Policy (app/web/security_headers.py) refuses."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.web.templating import templates

DOCS_URL = "/api/docs"
_ASSETS = "/static/vendor/swagger-ui"

router = APIRouter()


@router.get(DOCS_URL, include_in_schema=False)
def api_docs(request: Request) -> Response:
    context = {"title": f"{request.app.title} API", "openapi_url": request.app.openapi_url, "assets": _ASSETS}
    return templates.TemplateResponse(request, "api_docs.html", context)
