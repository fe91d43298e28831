"""A lead runs the loop from the browser: the overview shows the queue order and the rounds, the Loop tab
changes the order and starts a round."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.loop.job import run_order_job
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


def test_the_loop_tab_follows_an_ordering_job_to_its_end_without_a_reload(
    page: Page, live_server: str
) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, kind="pairwise", lead=lead)
        scoring = factories.make_job(session, project, lead, kind="scoring")
        scoring.status = "succeeded"
        for i, margin in enumerate([2.0, 0.1, 0.7, 1.2]):
            task = factories.make_task(session, project, f"Question {i}?", [f"A{i}", f"B{i}"])
            a, b = (str(r["id"]) for r in task.responses)
            scores = {"scores": {a: margin, b: 0.0}, "margin": margin, "favourite": a}
            factories.make_suggestion(session, task, kind="score", result=scores, job_id=scoring.id)
        project_id, email = project.id, lead.email

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/loop")
    page.locator('input[name="rule"][value="margin"]').check()
    page.get_by_role("button", name="Apply").click()
    summary = page.locator("#loop-summary")
    expect(summary).to_contain_text("0 open tasks ordered")
    with session_scope() as session:
        job = session.scalars(select(Job).where(Job.project_id == project_id, Job.of_kind("ordering"))).one()
        job_id = job.id
    line = summary.locator("p", has_text=f"ordering #{job_id}")
    expect(line).to_contain_text("queued 0%")

    with session_scope() as session:  # a worker picks it up (here: the test) ...
        job = session.get_one(Job, job_id)
        job.status, job.progress = "running", 0.5
    expect(line).to_contain_text("running 50%")
    run_order_job(job_id)  # ... and runs it
    expect(line).to_contain_text("succeeded 100%")
    expect(summary).to_contain_text("4 open tasks ordered")
