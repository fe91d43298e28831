"""Jinja2 templates; with HX-Request a route renders one block of the page's template."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nh3
from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2_fragments.fastapi import Jinja2Blocks
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound
from starlette.responses import Response

from app.kinds import all_kinds, kind_of
from app.kinds.messages import (
    images_of,
    pretty_json,
    readable_result,
    reasoning_of,
    tool_calls_of,
    tool_name,
    tools_of,
    with_image_parts,
)
from app.web.security_headers import content_security_policy

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


def _offsite_host(src: str, allowed: Collection[str]) -> str | None:
    """The host an image would be fetched from, when that is neither this instance nor a host the project
    allows; None when the image may load. data: images are in the page already (markdown-it lets only
    gif, png, jpeg and webp through) and paths without a host are this instance's own."""
    parts = urlsplit(src)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme == "data" or (not scheme and not parts.netloc and not src.startswith(("//", "\\", "/\\"))):
        return None
    if scheme in ("http", "https") and host and host in allowed:
        return None
    return host or "another site"


def _image(renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    """An image from elsewhere would tell that host who reads the page and when: it is shown as a link
    to follow on purpose, never fetched by the page itself."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    host = _offsite_host(src, env.get("image_hosts", ()))
    if host is None:
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    label = f"image from {host} not shown" + (f": {alt}" if alt else "")
    return f'<a href="{escapeHtml(src)}" class="offsite-image">{escapeHtml(label)}</a>'


# Raw HTML in content is never passed through: markdown-it with html off, then nh3 sanitizes the result.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight}).enable("table")
_md.add_render_rule("image", _image)
_ALLOWED_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "span": {"class"}, "code": {"class"}, "pre": {"class"}}
_ALLOWED_ATTRIBUTES["a"] = {*nh3.ALLOWED_ATTRIBUTES.get("a", set()), "class"}
# data: is kept for images only (they are part of the page); a data: link is dropped.
_URL_SCHEMES = {*nh3.ALLOWED_URL_SCHEMES, "data"}


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src") and value.lower().startswith("data:") and tag != "img":
        return None
    if tag == "a" and attribute == "class" and value != "offsite-image":
        return None
    return value


# A code block scrolls sideways inside its box: it takes the focus so that the keyboard can scroll it too.
_SET_ATTRIBUTES = {"pre": {"tabindex": "0"}}


def render_markdown(text: str | None, *, image_hosts: Collection[str] = ()) -> Markup:
    """Markdown as safe HTML. Images load only from this instance, data: URIs and `image_hosts` (a
    project's `image_hosts` setting); any other is a link reading "image from <host> not shown"."""
    html = _md.render(text or "", {"image_hosts": {h.lower() for h in image_hosts}})
    return Markup(
        nh3.clean(
            html,
            attributes=_ALLOWED_ATTRIBUTES,
            attribute_filter=_keep_attribute,
            url_schemes=_URL_SCHEMES,
            set_tag_attribute_values=_SET_ATTRIBUTES,
            link_rel="noopener noreferrer nofollow",
        )
    )


def image_hosts_of(project: Any) -> list[str]:
    """The hosts a project lets images of its content come from (its `image_hosts` setting)."""
    settings = getattr(project, "settings", None)
    hosts = settings.get("image_hosts") if isinstance(settings, dict) else None
    return [str(h) for h in hosts] if isinstance(hosts, list) else []


@pass_context
def _markdown_filter(context: Context, text: str | None) -> Markup:
    """`{{ text|markdown }}`: the page's project (when it has one) says which image hosts it allows."""
    return render_markdown(text, image_hosts=image_hosts_of(context.get("project")))


templates.env.filters["markdown"] = _markdown_filter


def line_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """`{{ original|line_diff(edited) }}`: the changed lines, each ("+" or "-", text), as the annotate page's
    live diff shows them (static/diff.js); ("~", why) where the texts are too long to compare."""
    a, b = str(before or "").split("\n"), str(after or "").split("\n")
    if len(a) * len(b) > 250_000:  # as the page's own diff: beyond this, comparing lines costs seconds
        return [("~", "(too long to compare line by line)")]
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":  # removed lines first, then what replaced them
            out += [("-", line) for line in a[i1:i2]] + [("+", line) for line in b[j1:j2]]
    return out


templates.env.filters["line_diff"] = line_diff
# a conversation's messages as partials/message.html shows them (app/kinds/messages.py reads them)
templates.env.filters["tool_calls"] = tool_calls_of
templates.env.filters["reasoning"] = reasoning_of
templates.env.filters["tool_name"] = tool_name
templates.env.filters["pretty_json"] = pretty_json
templates.env.filters["readable_result"] = readable_result
templates.env.filters["task_tools"] = tools_of
templates.env.filters["task_images"] = images_of
templates.env.filters["image_parts"] = with_image_parts
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
        if hosts := image_hosts_of(ctx["project"]):  # the policy lets the images its Markdown shows load
            headers = {**(headers or {}), "Content-Security-Policy": content_security_policy(hosts)}
    if block is not None and (block_only or is_htmx(request)):
        return templates.TemplateResponse(
            request, name, ctx, block_name=block, status_code=status_code, headers=headers
        )
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
