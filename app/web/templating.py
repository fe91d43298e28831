"""Jinja2 templates; with HX-Request a route renders one block of the page's template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nh3
from fastapi import Request
from jinja2_fragments.fastapi import Jinja2Blocks
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import Response

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))

# Raw HTML in content is never passed through: markdown-it with html off, then nh3 sanitizes the result.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    return Markup(nh3.clean(_md.render(text or ""), link_rel="noopener noreferrer nofollow"))


templates.env.filters["markdown"] = render_markdown


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    ctx: dict[str, Any] = {"request": request, "user": getattr(request.state, "user", None)}
    ctx["csrf_token"] = request.session.get("csrf", "")
    ctx.update(context or {})
    if block is not None and is_htmx(request):
        return templates.TemplateResponse(
            request, name, ctx, block_name=block, status_code=status_code, headers=headers
        )
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
