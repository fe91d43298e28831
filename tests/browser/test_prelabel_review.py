"""A reviewer works through LLM pre-labels with the keyboard: accepts one, corrects another. The labels come
from a real `label` job against the OpenAI-compatible stub; both answers record where they came from."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Annotation, Role, Suggestion
from app.prelabel.job import run_prelabel_job
from app.web.llm_stub import StubServer
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.prelabel.conftest import project_with_tasks, start

LABELS = ["Billing", "Delivery", "Account"]


def test_a_reviewer_accepts_one_pre_label_and_corrects_another(page: Page, live_server: str) -> None:
    prompts = [
        "My card was billed twice: a billing error.",
        "The delivery of my parcel is late, delivery please.",
    ]
    with StubServer() as stub:
        with session_scope() as s:
            project, lead = project_with_tasks(
                s, stub, settings={"labels": LABELS, "overlap": 2}, prompts=prompts
            )
            reviewer, annotator = factories.make_user(s), factories.make_user(s)
            factories.add_member(s, project, reviewer, Role.reviewer)
            factories.add_member(s, project, annotator, Role.annotator)
            job_id = start(s, project, lead, mode="label")
            project_id, reviewer_email, annotator_email = project.id, reviewer.email, annotator.email
        assert run_prelabel_job(job_id) == "succeeded"
    with session_scope() as s:
        suggested = {r.task_id: r for r in s.scalars(select(Suggestion).where(Suggestion.job_id == job_id))}
        first, second = sorted(suggested)
        assert suggested[first].result["labels"] == ["Billing"] and suggested[second].result["labels"] == [
            "Delivery"
        ]

    login_with_keyboard(page, live_server, reviewer_email)
    page.goto(f"{live_server}/projects/{project_id}/prelabel/review")
    review = page.locator("#review")
    expect(review).to_have_attribute("data-task", str(first))
    expect(page.locator(".suggestion .suggested")).to_have_text("Billing")
    page.keyboard.press("a")  # accept as it is
    expect(review).to_have_attribute("data-task", str(second))
    expect(page.locator(".suggestion .suggested")).to_have_text("Delivery")
    page.keyboard.press("e")  # edit: the suggested label is preselected
    expect(page.locator(".review-edit")).to_be_visible()
    expect(page.locator(".review-edit input[value=Delivery]")).to_be_checked()
    page.keyboard.press("3")  # Account
    page.keyboard.press("Enter")
    expect(page.locator("#review .done")).to_be_visible()
    expect(page.locator("#review .status")).to_have_text("Saved your answer.")

    with session_scope() as s:
        stored = {
            a.task_id: a for a in s.scalars(select(Annotation).where(Annotation.project_id == project_id))
        }
        accepted, corrected = stored[first], stored[second]
        assert (accepted.origin, accepted.edit_distance, accepted.result) == (
            "suggestion_accepted",
            0,
            {"labels": ["Billing"]},
        )
        assert (
            accepted.suggestion_id == suggested[first].id
            and accepted.lead_time_ms
            and accepted.lead_time_ms > 0
        )
        assert (corrected.origin, corrected.edit_distance, corrected.result) == (
            "suggestion_replaced",
            2,
            {"labels": ["Account"]},
        )
        assert corrected.suggestion_id == suggested[second].id

    # An annotator sees the suggestion beside the task on the annotate page (the project shows them).
    page.context.clear_cookies()
    login_with_keyboard(page, live_server, annotator_email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator("#workspace .suggestion")).to_contain_text("Billing")
    page.wait_for_load_state("networkidle")  # the prefetch of the next task ends before tables are emptied
