"""Comments in Chromium under the Content-Security-Policy: an annotator opens the annotate page's comments
panel from the keyboard and mentions the lead; the lead sees the unread count in the top bar, opens the
notification from the inbox (it lands on the task's review page), replies and resolves the thread."""

from __future__ import annotations

import os

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Comment, Notification, Role
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_csp import REPORT_VIOLATIONS

SHOTS = os.environ.get("PREFLAB_SHOTS")


def test_an_annotators_mention_reaches_the_leads_inbox_who_replies_and_resolves(
    page: Page, live_server: str
) -> None:
    violations: list[str] = []
    errors: list[str] = []
    page.expose_function("__cspViolation", lambda text: violations.append(f"{page.url}: {text}"))
    page.context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    with session_scope() as session:
        lead = factories.make_user(session, email="lena@example.test", name="Lena Lead")
        annotator = factories.make_user(session, email="ann@example.test", name="Ann Notator")
        project = factories.make_project(session, kind="pairwise", lead=lead)
        factories.add_member(session, project, annotator, Role.annotator)
        task = factories.make_task(session, project, "Which is kinder?", ["Thanks!", "Whatever."])
        project_id, task_id = project.id, task.id

    login_with_keyboard(page, live_server, "ann@example.test")
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator(f'#workspace section.task[data-task="{task_id}"]')).to_be_focused()
    page.keyboard.press("m")
    panel = page.locator("#comments-panel")
    expect(panel).to_be_visible()
    body = panel.locator("textarea[data-comment-body]")
    expect(body).to_be_focused()
    page.keyboard.type("@lena is B a refusal? <script>alert(1)</script>")
    page.keyboard.press("Control+Enter")
    thread = panel.locator(".comment-thread")
    expect(thread).to_have_count(1)
    expect(thread).to_contain_text("is B a refusal? <script>alert(1)</script>")  # shown as text
    expect(panel.get_by_test_id("open-threads")).to_have_text("1 open")
    page.keyboard.press("Escape")  # out of the field: the task's keys work again, m closes the panel
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/annotate-comments.png")
    page.keyboard.press("m")
    expect(panel).to_be_hidden()
    page.get_by_role("button", name="Log out").click()

    login_with_keyboard(page, live_server, "lena@example.test")
    expect(page.get_by_test_id("inbox-count")).to_contain_text("1")
    page.get_by_role("link", name="Inbox").click()
    expect(page.get_by_test_id("notification")).to_have_count(1)
    expect(page.get_by_test_id("inbox-unread")).to_have_text("1 unread")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/inbox.png")
    page.get_by_test_id("notification").get_by_role("link").click()
    page.wait_for_url(f"{live_server}/projects/{project_id}/review/{task_id}#comment-*")
    expect(page.get_by_test_id("inbox-count")).to_have_count(0)  # opened: nothing unread
    block = page.locator("#comments-block")
    reply = block.locator(".comment-reply textarea")
    reply.fill("No, it is curt: pick A")
    block.get_by_role("button", name="Reply").click()
    expect(block.locator(".comment.reply")).to_contain_text("No, it is curt: pick A")
    block.get_by_role("button", name="Resolve").click()
    expect(block).to_contain_text("Resolved by Lena Lead")
    expect(block.get_by_test_id("open-threads")).to_have_text("0 open")

    with session_scope() as session:
        first, answer = session.scalars(select(Comment).order_by(Comment.id)).all()
        assert first.resolved_at is not None and answer.parent_id == first.id
        told = session.scalars(select(Notification).order_by(Notification.id)).all()
        assert [(n.kind, n.comment_id, n.read_at is not None) for n in told] == [
            ("mention", first.id, True),
            ("reply", answer.id, False),
        ]
    assert not violations, violations
    assert not errors, errors
