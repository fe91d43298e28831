"""An annotator flags a task from the annotate page; a lead finds the flag on the project's overview and
resolves it there."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Role, TaskFlag
from tests import factories
from tests.browser.conftest import login_with_keyboard


def test_a_lead_sees_an_annotators_flag_on_the_overview_and_resolves_it(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead, annotator = factories.make_user(session), factories.make_user(session)
        project = factories.make_project(session, kind="pairwise", lead=lead)
        factories.add_member(session, project, annotator, Role.annotator)
        task = factories.make_task(session, project, "Which is kinder?", ["Thanks!", "Whatever."])
        project_id, task_id, lead_email, annotator_email = project.id, task.id, lead.email, annotator.email

    login_with_keyboard(page, live_server, annotator_email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator(f'#workspace section.task[data-task="{task_id}"]')).to_be_focused()
    page.keyboard.press("f")
    dialog = page.locator("#flag-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("2")  # harmful
    dialog.locator("textarea[name=comment]").fill("the second answer is rude")
    dialog.get_by_role("button", name="Send flag").click()
    expect(page.get_by_text("Flag sent to the project's leads.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    login_with_keyboard(page, live_server, lead_email)
    page.goto(f"{live_server}/projects/{project_id}")
    flags = page.locator("section.flags")
    expect(flags).not_to_contain_text("No open flags")
    flag = flags.locator("li.flag")
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("harmful")
    expect(flag).to_contain_text(f"task #{task_id}")
    expect(flag).to_contain_text("the second answer is rude")
    flag.get_by_role("button", name="Resolve").click()
    expect(flag).to_contain_text("resolved")
    expect(flag.get_by_role("button", name="Resolve")).to_have_count(0)

    with session_scope() as session:
        stored = session.scalars(select(TaskFlag).where(TaskFlag.project_id == project_id)).one()
        assert stored.reason == "harmful" and stored.resolved_at is not None
    page.reload()  # resolved flags leave the overview
    expect(page.locator("section.flags")).to_contain_text("No open flags")
