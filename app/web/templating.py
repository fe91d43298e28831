"""Jinja2 templates; with HX-Request a route renders one block of the page's template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nh3
from fastapi import Request
from jinja2_fragments.fastapi import Jinja2Blocks
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound
from starlette.responses import Response

from app.kinds import all_kinds, kind_of

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))


# Pygments' short token classes would collide with the page's own (`sr` is a regex literal to Pygments and
# screen-reader-only text to app.css): every token class carries this prefix.
HIGHLIGHT_CLASS_PREFIX = "hl-"


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Fenced code, highlighted on the server (Pygments classes, styled in app.css)."""
    try:
        lexer = get_lexer_by_name(lang) if lang else guess_lexer(code)
    except ClassNotFound:
        return ""  # markdown-it escapes and renders it plainly
    return highlight(code, lexer, HtmlFormatter(nowrap=True, classprefix=HIGHLIGHT_CLASS_PREFIX))


# Raw HTML in content is never passed through: markdown-it with html off, then nh3 sanitizes the result.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight}).enable("table")
_ALLOWED_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "span": {"class"}, "code": {"class"}, "pre": {"class"}}


def render_markdown(text: str | None) -> Markup:
    html = _md.render(text or "")
    return Markup(nh3.clean(html, attributes=_ALLOWED_ATTRIBUTES, link_rel="noopener noreferrer nofollow"))


templates.env.filters["markdown"] = render_markdown
# Templates never compare kinds: a page about a project has the project's kind as `project_type` (see
# render) and includes its parts, `project_type.template("annotate")`; the new-project form lists these.
templates.env.globals["project_types"] = all_kinds()


def job_outcome(job: Any) -> str:
    """What a finished job produced, one partial per job kind (jobs/outcome/<kind>.html, where it has one)."""
    return f"jobs/outcome/{job.kind}.html"


templates.env.globals["job_outcome"] = job_outcome


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    block_only: bool = False,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The page, or with HX-Request its `block`; `block_only`: the block whatever the request, for a URL
    that only ever fills part of another page (the annotate page's suggestion beside each task)."""
    ctx: dict[str, Any] = {"request": request, "user": getattr(request.state, "user", None)}
    ctx["csrf_token"] = request.session.get("csrf", "")
    ctx.update(context or {})
    if ctx.get("project") is not None:
        ctx.setdefault("project_type", kind_of(ctx["project"]))
    if block is not None and (block_only or is_htmx(request)):
        return templates.TemplateResponse(
            request, name, ctx, block_name=block, status_code=status_code, headers=headers
        )
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
