"""A reviewer works through one task's answers with the keyboard: accepts one, corrects another."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Annotation, Review, Role
from tests import factories
from tests.browser.conftest import login_with_keyboard


def test_reviewer_accepts_and_corrects_with_the_keyboard(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead, reviewer = factories.make_user(session), factories.make_user(session)
        first, second = factories.make_user(session), factories.make_user(session)
        project = factories.make_project(session, kind="pairwise", lead=lead, settings={"overlap": 2})
        factories.add_member(session, project, reviewer, Role.reviewer)
        for person in (first, second):
            factories.add_member(session, project, person, Role.annotator)
        task = factories.make_task(
            session, project, "Which greeting is friendlier?", ["Hello there!", "What."]
        )
        one = factories.make_annotation(session, task, first, {"choice": "a", "strength": 2})
        two = factories.make_annotation(session, task, second, {"choice": "b", "strength": 0})
        ids = (project.id, task.id, one.id, two.id, reviewer.email)
    project_id, task_id, one_id, two_id, email = ids

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/review")
    page.locator(f'a[href="/projects/{project_id}/review/{task_id}"]').click()
    answers = page.locator("#review .answer")
    expect(answers).to_have_count(2)
    expect(answers.first).to_be_focused()
    page.keyboard.press("a")  # accept the first answer
    expect(page.locator("#review .answer").first.locator(".badge.accepted")).to_be_visible()
    page.keyboard.press("j")  # the second answer
    expect(page.locator("#review .answer").nth(1)).to_be_focused()
    page.keyboard.press("c")  # correct it: the choice field takes the focus
    choice = page.locator("#review .answer").nth(1).locator("details.correct select[name=choice]")
    expect(choice).to_be_focused()
    page.keyboard.press("a")  # pick response a
    page.keyboard.press("Tab")  # to the strength
    page.keyboard.press("Tab")  # to the comment
    page.keyboard.type("B is rude")
    page.keyboard.press("Enter")
    expect(page.locator("#review .answer").nth(1).locator(".badge.corrected")).to_be_visible()

    with session_scope() as session:
        rows = session.execute(select(Annotation.id, Annotation.status).where(Annotation.task_id == task_id))
        statuses = {row[0]: row[1] for row in rows}
        assert statuses == {one_id: "accepted", two_id: "corrected"}
        review = session.scalars(select(Review).where(Review.annotation_id == two_id)).one()
        assert (
            review.verdict == "correct"
            and review.result == {"choice": "a", "strength": 0}
            and review.comment == "B is rude"
        )
