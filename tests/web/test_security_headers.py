"""Every answer carries the security headers (pages, API, static files, redirects, errors, an unhandled
error's 500), HSTS only over https, and templates/ holds no inline script or style for the policy to refuse
(tests/browser/test_csp.py loads the pages in Chromium and counts violations)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app, iter_routes
from app.web.templating import TEMPLATES_DIR
from tests import factories
from tests.conftest import sign_in

POLICY_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def _missing(response: Any) -> list[str]:
    h = response.headers
    policy = h.get("content-security-policy", "")
    wrong = [part for part in POLICY_PARTS if part not in policy]
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        wrong.append("unsafe-* in the policy")
    if h.get("x-content-type-options") != "nosniff":
        wrong.append("x-content-type-options")
    if h.get("referrer-policy") not in ("same-origin", "strict-origin-when-cross-origin"):
        wrong.append("referrer-policy")
    if h.get("x-frame-options") != "DENY":
        wrong.append("x-frame-options")
    return wrong


def _fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(ids.get(m.group(1), 999_999)), path)


def test_every_route_answers_with_the_security_headers(app: Any, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=admin)
    task = factories.make_tasks(db, project, 2)[0]
    job = factories.make_job(db, project, admin)
    snapshot = factories.make_snapshot(db, project, admin)
    model = factories.make_model(db, snapshot)
    token = factories.make_token(db, admin)
    real = {"pid": project.id, "tid": task.id, "jid": job.id, "sid": snapshot.id, "mid": model.id}
    real |= {"uid": admin.id, "user_id": admin.id, "split": "train", "mode": "label"}
    routes = list(iter_routes(list(app.routes)))
    assert len(routes) > 100  # the walk found the API, the pages and the static mount
    failures: list[str] = []
    seen: set[int] = set()
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        # signed out first: the login redirects and 401s carry them too
        for method, path, _ in routes:
            response = client.request(method, _fill(path, real))
            seen.add(response.status_code)
            failures += [f"out {method} {path} -> {response.status_code}: {m}" for m in _missing(response)]
        csrf = sign_in(client, admin.id)
        headers = {"Authorization": f"Bearer {token}", "X-CSRF-Token": csrf}
        for method, path, _ in routes:
            # every page and API read on objects that exist; writes on ids that do not (nothing changes)
            url = _fill(path, real if method == "GET" else {"split": "train", "mode": "label"})
            response = client.request(method, url, headers=headers)
            seen.add(response.status_code)
            failures += [f"{method} {url} -> {response.status_code}: {m}" for m in _missing(response)]
        for url in ("/static/app.css", "/static/vendor/htmx.min.js", "/favicon.ico", "/no/such/page"):
            response = client.get(url)
            seen.add(response.status_code)
            failures += [f"GET {url} -> {response.status_code}: {m}" for m in _missing(response)]
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
    assert {200, 303, 401, 404} <= seen  # pages, redirects, API refusals and errors were all among them


def test_an_unhandled_error_answers_with_the_security_headers() -> None:
    application = create_app()

    @application.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(application, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert _missing(response) == []


@pytest.mark.parametrize(("base", "hsts"), [("http://testserver", False), ("https://testserver", True)])
def test_hsts_only_over_https(client: TestClient, base: str, hsts: bool) -> None:
    client.base_url = base  # type: ignore[assignment]
    for url in ("/login", "/api/v1/projects", "/static/app.css"):
        response = client.get(url)
        assert _missing(response) == [], url
        assert ("max-age=" in response.headers.get("strict-transport-security", "")) is hsts, url


# What the policy refuses, as it would appear in a template: an on…= handler attribute, a <script> without
# src (an inline block), a <style> block or style= attribute, htmx's hx-on (evaluated code), a javascript:
# URL, and js:/javascript: values for hx-vals/hx-headers (evaluated too).
INLINE = {
    "handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S),
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "<style> block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I | re.S),
    "hx-on": re.compile(r"\b(?:data-)?hx-on", re.I),
    "javascript: URL or js: value": re.compile(r"""["'=]\s*(?:javascript|js):""", re.I),
}


def test_templates_hold_no_inline_script_or_style() -> None:
    templates = sorted(Path(TEMPLATES_DIR).rglob("*.html"))
    assert len(templates) > 30
    found = []
    for template in templates:
        # Jinja comments are not sent; they may talk about what they avoid
        text = re.sub(r"\{#.*?#\}", "", template.read_text(), flags=re.S)
        for what, pattern in INLINE.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES_DIR)}:{line}: {what}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "sample",
    [
        '<select onchange="this.form.requestSubmit()">',
        "<form method=post\n      onsubmit=\"return confirm('x')\">",
        "<script>alert(1)</script>",
        "<style>.a{}</style>",
        '<div style="width: 3%">',
        '<button hx-on:click="x()">',
        '<a href="javascript:void(0)">',
        "<div hx-vals='js:{a: 1}'>",
    ],
)
def test_the_template_check_sees_each_kind_of_inline_code(sample: str) -> None:
    assert any(pattern.search(sample) for pattern in INLINE.values())


def test_a_project_that_allows_image_hosts_lets_its_pages_load_images_from_them(
    client: TestClient, db: Session
) -> None:
    from tests.conftest import sign_in

    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    sign_in(client, lead.id)
    default = client.get(f"/projects/{project.id}").headers["content-security-policy"]
    assert "img-src 'self' data:;" in default
    project.settings = {**project.settings, "image_hosts": ["images.example.com"]}
    db.flush()
    allowed = client.get(f"/projects/{project.id}").headers["content-security-policy"]
    assert "img-src 'self' data: http://images.example.com:* https://images.example.com:*;" in allowed
    assert allowed.replace(" http://images.example.com:* https://images.example.com:*", "") == default
    assert client.get("/").headers["content-security-policy"] == default  # other pages keep the default
