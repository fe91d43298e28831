"""A lead runs the loop from the browser: the overview shows the queue order and the rounds, the Loop tab
changes the order and starts a round."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Job, Project, Round
from tests import factories
from tests.browser.conftest import login_with_keyboard


def test_lead_sets_the_queue_order_and_starts_a_round(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, kind="pairwise", lead=lead)
        factories.make_task(session, project, "Which is kinder?", ["Thanks!", "Whatever."])
        project_id, email = project.id, lead.email

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}")
    summary = page.locator("#loop-summary")  # loaded by htmx after the page
    expect(summary).to_contain_text("Queue order")
    expect(summary).to_contain_text("priority")
    expect(page.locator("#rounds")).to_contain_text("does not run in rounds yet")

    page.get_by_role("navigation", name="Project").get_by_role("link", name="Loop").click()
    page.locator('input[name="rule"][value="margin"]').check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#loop-summary")).to_contain_text("smallest reward margin first")
    page.get_by_role("button", name="Start round 1").click()
    expect(page.locator("table.rounds")).to_contain_text("Round 1")
    expect(page.get_by_role("button", name="Start round 2")).to_be_visible()

    with session_scope() as session:
        assert session.get_one(Project, project_id).settings["queue_order"] == "margin"
        assert session.scalars(select(Job.kind).where(Job.project_id == project_id)).all() == ["ordering"]
        assert [r.number for r in session.scalars(select(Round).where(Round.project_id == project_id))] == [1]
