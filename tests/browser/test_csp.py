"""The Content-Security-Policy (no inline script or style) costs nothing in Chromium: the main pages of the
demo projects (every kind's annotate page, the review, dashboard, loop, pre-label, settings and member
pages, the API docs) load with zero policy violations, zero console errors and zero script errors, and the
behaviour that moved out of inline handlers (a role picked from a list saves itself, deleting a snapshot
asks first) still works. The rest of tests/browser runs under the same policy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.demo.seed import seed_demo
from app.models import Member, Project, Role, Snapshot, Task, User
from tests import factories
from tests.browser.conftest import login_with_keyboard

SHOTS = os.environ.get("PREFLAB_SHOTS")  # a folder: screenshots of the pages under the policy land there

# Every violation the page sees, whatever its directive, reported to the test through an exposed function.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = [e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample];
  window.__cspViolation(where.join(" | "));
});
"""


@dataclass
class Watched:
    page: Page
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def visit(self, url: str, shot: str | None = None) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")  # htmx's load-triggered blocks are in, and checked too
        if SHOTS and shot:
            self.page.screenshot(path=f"{SHOTS}/csp-{shot}.png", full_page=True)


def _watch(browser: Browser) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(30_000)  # the box is shared: a page may take a while to load
    watched = Watched(page)
    page.expose_function("__cspViolation", lambda text: watched.violations.append(f"{page.url}: {text}"))
    context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda exc: watched.errors.append(f"{page.url}: {exc}"))
    return watched


@dataclass
class Demo:
    admin: str
    annotator: str
    projects: dict[str, int]  # kind -> id
    task: int  # an annotated pairwise task
    snapshot: int
    job: int
    model: int


@pytest.fixture
def demo(committed: None) -> Demo:
    """The demo projects as `preflab serve` seeds them, an annotator in each, two answers, a pre-label
    suggestions, a snapshot, a job and a model in the pairwise one."""
    with session_scope() as s:
        admin_email, _ = seed_demo(s, admin_password=factories.PASSWORD)
        annotator = factories.make_user(s)
        # the first demo project of each kind (the images demo is a second pairwise one)
        every = list(s.scalars(select(Project).order_by(Project.id)))
        projects = {p.kind: p for p in reversed(every)}
        for project in every:
            factories.add_member(s, project, annotator, Role.annotator)
        pairwise = projects["pairwise"]
        tasks = list(s.scalars(select(Task).where(Task.project_id == pairwise.id).order_by(Task.id).limit(6)))
        for task in tasks[:2]:
            factories.make_annotation(s, task, annotator)
        for task in tasks[2:]:  # the annotator's open task holds one: the reviewer gets another
            factories.make_suggestion(s, task)
        lead = s.scalars(select(User).where(User.email == admin_email)).one()
        snapshot = factories.make_snapshot(s, pairwise, lead)
        job = factories.make_job(s, pairwise, lead)
        job.status = "succeeded"
        model = factories.make_model(s, snapshot, path=str(factories.model_dir()))
        return Demo(
            admin_email,
            annotator.email,
            {kind: p.id for kind, p in projects.items()}
            | {f"{p.kind}-{p.id}": p.id for p in every if projects[p.kind] is not p},
            tasks[0].id,
            snapshot.id,
            job.id,
            model.id,
        )


@pytest.fixture
def watched(browser: Browser, committed: None) -> Iterator[Watched]:
    w = _watch(browser)
    yield w
    w.page.context.close()


def test_the_main_pages_load_with_no_policy_violation(watched: Watched, live_server: str, demo: Demo) -> None:
    base = live_server
    watched.visit(f"{base}/login", "login")
    watched.visit(f"{base}/no/such/page", "not-found")
    assert [e.split(": ", 1)[1] for e in watched.errors] == [  # Chromium logs the page's own 404, only that
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    watched.errors.clear()
    login_with_keyboard(watched.page, base, demo.annotator)
    watched.visit(f"{base}/", "home")
    for kind, pid in demo.projects.items():
        watched.visit(f"{base}/projects/{pid}/annotate", f"annotate-{kind}")
        expect(watched.page.locator("#task, .task").first).to_be_visible()
    watched.page.context.clear_cookies()

    login_with_keyboard(watched.page, base, demo.admin)
    pairwise = demo.projects["pairwise"]
    for kind, pid in demo.projects.items():
        watched.visit(f"{base}/projects/{pid}", f"overview-{kind}" if kind == "pairwise" else None)
        watched.visit(f"{base}/projects/{pid}/settings", f"settings-{kind}" if kind == "rating" else None)
        watched.visit(f"{base}/projects/{pid}/review")
        watched.visit(f"{base}/projects/{pid}/prelabel")
    # (page, screenshot name, something on it that shows it rendered in full)
    for path, shot, shown in (
        (f"/projects/{pairwise}/review/{demo.task}", "review-task", ".annotation, .card"),
        (f"/projects/{pairwise}/dashboard", "dashboard", "table.annotators"),
        (f"/projects/{pairwise}/loop", "loop", "#loop-summary"),
        (f"/projects/{pairwise}/prelabel/review", "prelabel-review", ".suggestion .suggested"),
        (f"/projects/{pairwise}/members", "members", f"select[aria-label='role of {demo.annotator}']"),
        (f"/projects/{pairwise}/tasks", None, "main table"),
        (f"/projects/{pairwise}/import", None, "main form"),
        (f"/projects/{pairwise}/exports", None, "#snapshots"),
        (f"/snapshots/{demo.snapshot}", "snapshot", "form[data-confirm]"),
        (f"/jobs/{demo.job}", None, "main"),
        ("/models", None, "main"),
        (f"/models/{demo.model}", None, "main"),
        ("/training/new", None, "main form"),
        ("/projects/new", None, "main form"),
        ("/admin/users", None, "main table"),
        ("/account", None, "main form"),
        ("/api/docs", "api-docs", "#swagger-ui .opblock"),
    ):
        watched.visit(f"{base}{path}", shot)
        # Swagger UI takes 7-12 s to draw the operations on this box when it is busy
        expect(watched.page.locator(shown).first).to_be_visible(timeout=30_000)
    assert watched.violations == [], "\n".join(watched.violations)
    assert watched.errors == [], "\n".join(watched.errors)


def test_a_page_with_inline_code_is_caught(watched: Watched, live_server: str) -> None:
    """The watch itself works: an inline handler and an inline style on a page under the policy are
    reported (the policy as the server sends it, on a page of the instance)."""
    watched.page.goto(f"{live_server}/login")
    watched.page.evaluate(
        "() => { const d = document.createElement('div'); d.innerHTML ="
        ' \'<img src="data:," onerror="window.ran = 1"><p style="color: red">x</p>\';'
        " document.body.append(d); }"
    )
    watched.page.wait_for_timeout(300)
    assert watched.page.evaluate("window.ran") is None
    directives = " ".join(watched.violations)
    assert "script-src" in directives and "style-src" in directives, watched.violations


def test_a_role_picked_from_the_list_saves_itself(watched: Watched, live_server: str, demo: Demo) -> None:
    login_with_keyboard(watched.page, live_server, demo.admin)
    pid = demo.projects["classification"]
    watched.visit(f"{live_server}/projects/{pid}/members")
    saved = lambda r: r.request.method == "POST" and r.url.endswith(f"/projects/{pid}/members")  # noqa: E731
    with watched.page.expect_response(saved) as answer:
        watched.page.get_by_label(f"role of {demo.annotator}").select_option("reviewer")
    assert answer.value.status == 200
    expect(watched.page.get_by_label(f"role of {demo.annotator}")).to_have_value("reviewer")
    with session_scope() as s:
        role = s.scalar(
            select(Member.role).join(User).where(Member.project_id == pid, User.email == demo.annotator)
        )
    assert role == "reviewer"
    assert watched.violations == [] and watched.errors == []


def test_deleting_a_snapshot_asks_first(watched: Watched, live_server: str, demo: Demo) -> None:
    login_with_keyboard(watched.page, live_server, demo.admin)
    watched.visit(f"{live_server}/snapshots/{demo.snapshot}")
    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    watched.page.once("dialog", lambda d: answer(d, False))
    watched.page.get_by_role("button", name="Delete snapshot files").click()
    watched.page.wait_for_timeout(300)
    assert asked and "Delete the files of snapshot v" in asked[0]
    with session_scope() as s:
        assert s.get(Snapshot, demo.snapshot).status == "ready"  # type: ignore[union-attr]

    watched.page.once("dialog", lambda d: answer(d, True))
    with watched.page.expect_navigation():
        watched.page.get_by_role("button", name="Delete snapshot files").click()
    with session_scope() as s:
        assert s.get(Snapshot, demo.snapshot).status == "deleted"  # type: ignore[union-attr]
    assert len(asked) == 2
    assert watched.violations == [] and watched.errors == []


def test_hsts_is_not_sent_for_a_scheme_only_an_untrusted_peer_claims(live_server: str) -> None:
    """The live server trusts no proxy (PREFLAB_TRUSTED_PROXIES is empty, uvicorn's own proxy headers off):
    a client claiming https through X-Forwarded-Proto gets no HSTS; HSTS over https itself is
    tests/web/test_security_headers.py's."""
    plain = httpx.get(f"{live_server}/login")
    assert "strict-transport-security" not in plain.headers
    assert plain.headers["content-security-policy"].startswith("default-src 'self'")
    claimed = httpx.get(f"{live_server}/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in claimed.headers
