"""An annotator picks the better response, then rewrites it on the same page, with the keyboard only: e
opens the editor on the chosen response, a live diff shows the changes, Esc leaves, Ctrl+Enter submits;
the answer names the rewritten response by id whatever the order shown."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Review, Role
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored


def _shot(page: Page, name: str) -> None:
    if folder := os.environ.get("PREFLAB_SHOTS"):
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _rows(n: int) -> list[dict]:  # type: ignore[type-arg]
    return [
        {
            "prompt": f"Question {i}: explain recursion in one line.",
            "responses": [
                {"id": f"left-{i}", "text": f"Recursion is when a function calls itself.\nAnswer {i} by A."},
                {"id": f"right-{i}", "text": f"Recursion: a thing defined by itself.\nAnswer {i} by B."},
            ],
        }
        for i in range(n)
    ]


def _retype(page: Page, text: str) -> None:
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def test_a_pairwise_rewrite_by_keyboard_only(page: Page, live_server: str) -> None:
    project_id, email = _project("pairwise", _rows(3), edits="required_if_neither_good", edit_max_chars=400)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    status = page.locator("#status")
    editor = page.locator("#workspace .rewrite textarea")

    # 1: choose B, rewrite it, Ctrl+Enter submits from inside the editor
    page.keyboard.press("e")
    expect(status).to_contain_text("Choose the better response first")
    page.keyboard.press("2")
    page.keyboard.press("r")  # strength: the third step ("Better"); e is the rewrite key
    page.keyboard.press("e")
    expect(editor).to_be_focused()
    expect(page.locator("#workspace .rewrite-of")).to_have_text("Response B")
    chosen_text = editor.input_value()
    assert chosen_text.startswith("Recursion")
    page.keyboard.press("End")
    page.keyboard.type(" Like a mirror facing a mirror.")
    expect(page.locator("#workspace .rewrite .diff .add")).to_contain_text("Like a mirror facing a mirror.")
    expect(page.locator("#workspace .rewrite .diff .del")).to_have_count(1)
    _shot(page, "annotate-pairwise-rewrite")
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []  # the open editor, its diff and the neither-good toggle
    page.keyboard.press("Control+Enter")
    expect(status).to_have_text("Saved.")

    # 2: neither is good, so a rewrite is required: Enter without one is refused, in place
    expect(editor).to_have_count(1)
    expect(page.locator("#workspace .rewrite")).to_be_hidden()
    page.keyboard.press("1")
    page.keyboard.press("q")
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("neither response good")
    page.keyboard.press("e")
    _retype(page, "A recursive function solves a problem by solving smaller copies of it.")
    page.keyboard.press("Escape")  # leaves the editor; the rewrite stays
    expect(editor).not_to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Saved.")

    # 3: a rewrite of A, then B chosen instead: refused with how to go on; x discards it
    page.keyboard.press("1")
    page.keyboard.press("q")
    page.keyboard.press("e")
    _retype(page, "x" * 401)
    expect(page.locator("#workspace .rewrite-count")).to_have_attribute("data-level", "error")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("limit of 400 characters")
    page.keyboard.press("e")
    _retype(page, "A shorter, better answer.")
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("no longer preferred")
    page.keyboard.press("x")
    expect(page.locator("#workspace .rewrite")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#workspace .task.done")).to_be_visible()

    stored = _stored(project_id)
    assert len(stored) == 3
    (first, lease1), (second, lease2), (third, lease3) = stored
    b_of_first = lease1.order[1]
    assert first.result == {
        "choice": b_of_first,
        "strength": 2,
        "edits": {b_of_first: chosen_text + " Like a mirror facing a mirror."},
    }
    a_of_second = lease2.order[0]
    assert second.result == {
        "choice": a_of_second,
        "strength": 0,
        "edits": {a_of_second: "A recursive function solves a problem by solving smaller copies of it."},
        "neither_good": True,
    }
    assert third.result == {"choice": lease3.order[1], "strength": 0}  # the discarded rewrite is gone


def test_undo_brings_the_rewrite_back_into_the_editor(page: Page, live_server: str) -> None:
    project_id, email = _project("pairwise", _rows(2), edits="optional")
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    page.keyboard.press("1")
    page.keyboard.press("q")
    page.keyboard.press("e")
    _retype(page, "First rewrite.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#status")).to_have_text("Saved.")
    page.keyboard.press("u")
    expect(page.locator("#workspace .rewrite textarea")).to_have_value("First rewrite.")
    page.keyboard.press("e")
    _retype(page, "Second, better rewrite.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#status")).to_have_text("Your answer was changed.")
    ((annotation, lease),) = _stored(project_id)
    assert annotation.result["edits"] == {lease.order[0]: "Second, better rewrite."}


def test_a_ranking_rewrite_of_the_top_response(page: Page, live_server: str) -> None:
    rows = [
        {"prompt": "Name a prime.", "responses": [{"id": f"r{j}", "text": f"Answer {j}"} for j in range(3)]}
    ]
    project_id, email = _project("ranking", rows, k=3, edits="optional")
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    page.keyboard.press("3")
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("Shift+ArrowUp")  # the third shown is now on top
    page.keyboard.press("e")
    expect(page.locator("#workspace .rewrite-of")).to_have_text("the top response")
    _retype(page, "Seven is prime.")
    _shot(page, "annotate-ranking-rewrite")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#workspace .task.done")).to_be_visible()
    ((annotation, lease),) = _stored(project_id)
    top = lease.order[2]
    assert annotation.result["ranking"][0] == top
    assert annotation.result["edits"] == {top: "Seven is prime."}


def test_a_reviewer_sees_the_rewrite_as_a_diff_and_corrects_or_rejects_it(
    page: Page, live_server: str
) -> None:
    with session_scope() as session:
        lead, reviewer = factories.make_user(session), factories.make_user(session)
        first, second = factories.make_user(session), factories.make_user(session)
        project = factories.make_project(
            session, kind="pairwise", lead=lead, settings={"overlap": 2, "edits": "optional"}
        )
        factories.add_member(session, project, reviewer, Role.reviewer)
        for person in (first, second):
            factories.add_member(session, project, person, Role.annotator)
        task = factories.make_task(session, project, "Greet a guest.", ["Hello there!\nWelcome.", "What."])
        one = factories.make_annotation(
            session,
            task,
            first,
            {"choice": "a", "strength": 2, "edits": {"a": "Hello there!\nWelcome in, friend."}},
        )
        two = factories.make_annotation(session, task, second, {"choice": "a", "edits": {"a": "Go away."}})
        ids = (project.id, task.id, one.id, two.id, reviewer.email)
    project_id, task_id, one_id, two_id, email = ids

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/review/{task_id}")
    answers = page.locator("#review .answer")
    first_diff = answers.first.locator(".rewrite-review .diff")
    expect(first_diff.locator(".del")).to_have_text("- Welcome.")
    expect(first_diff.locator(".add")).to_have_text("+ Welcome in, friend.")
    _shot(page, "review-rewrite")
    # correct the first rewrite in place
    answers.first.locator("details.correct summary").click()
    fix = answers.first.locator("textarea[name=edit]")
    fix.fill("Hello there!\nWelcome in, dear friend.")
    answers.first.locator("details.correct button.primary").click()
    expect(page.locator("#review .answer").first.locator(".badge.corrected")).to_be_visible()
    # reject the second one's rewrite, keeping its choice
    second_answer = page.locator("#review .answer").nth(1)
    second_answer.locator("details.correct summary").click()
    second_answer.locator("button[name=drop_edit]").click()
    expect(page.locator("#review .answer").nth(1).locator(".badge.corrected")).to_be_visible()

    with session_scope() as session:
        corrected = session.scalars(select(Review).where(Review.annotation_id == one_id)).one()
        assert corrected.result == {
            "choice": "a",
            "strength": 2,
            "edits": {"a": "Hello there!\nWelcome in, dear friend."},
        }
        dropped = session.scalars(select(Review).where(Review.annotation_id == two_id)).one()
        assert dropped.result == {"choice": "a"}
