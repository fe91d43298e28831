"""An annotator works only with the keyboard; results name the right responses whatever the shown order."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.imports.service import import_rows
from app.models import Annotation, Assignment, Role
from tests import factories
from tests.browser.conftest import login_with_keyboard


def _project(kind: str, rows: list[dict], **settings: object) -> tuple[int, str]:  # type: ignore[type-arg]
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, kind=kind, lead=lead, settings=dict(settings))
        annotator = factories.make_user(session)
        factories.add_member(session, project, annotator, Role.annotator)
        import_rows(session, project_id=project.id, raw_rows=enumerate(rows, 1))
        return project.id, annotator.email


def _stored(project_id: int) -> list[tuple[Annotation, Assignment]]:
    with session_scope() as session:
        rows = session.execute(
            select(Annotation, Assignment)
            .join(Assignment, Assignment.id == Annotation.assignment_id)
            .where(Annotation.project_id == project_id)
            .order_by(Annotation.id)
        ).all()
        for a, b in rows:
            session.expunge(a)
            session.expunge(b)
        return [(a, b) for a, b in rows]


def test_pairwise_tasks_with_the_keyboard_only(page: Page, live_server: str) -> None:
    rows = [
        {
            "prompt": f"Question {i}: which answer is kinder?",
            "responses": [f"First answer {i}", f"Second answer {i}"],
        }
        for i in range(4)
    ]
    project_id, email = _project("pairwise", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    pressed = ["1", "2", "1", "2"]
    for i, key in enumerate(pressed):
        task = page.locator("#workspace section.task")
        expect(task).to_have_count(1)
        task_id = task.get_attribute("data-task")
        page.keyboard.press(key)
        page.keyboard.press("w")  # strength: "Slightly better"
        page.keyboard.press("Enter")
        expect(page.locator(f'#workspace section.task[data-task="{task_id}"]')).to_have_count(0)
        assert i < 3 or page.locator("#workspace .task.done").count() == 1
    expect(page.locator("#workspace .task.done")).to_be_visible()
    stored = _stored(project_id)
    assert len(stored) == 4
    for (annotation, lease), key in zip(stored, pressed, strict=True):
        shown_as = lease.order[int(key) - 1]  # what the screen called A (1) or B (2)
        assert annotation.result == {"choice": shown_as, "strength": 1}
        assert annotation.lead_time_ms is not None and annotation.lead_time_ms > 0
    # the ids are the task's own response ids, so storage never depends on screen position
    assert {a.result["choice"] for a, _ in stored} <= {"a", "b"}


def test_ranking_with_the_keyboard_only(page: Page, live_server: str) -> None:
    rows = [{"prompt": "Rank these haikus", "responses": ["one", "two", "three", "four"]}]
    project_id, email = _project("ranking", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    items = page.locator(".ranking > li")
    expect(items).to_have_count(4)
    shown = [items.nth(i).get_attribute("data-id") for i in range(4)]
    page.keyboard.press("3")  # select the third response
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("Shift+ArrowUp")  # ... and move it to the top
    page.keyboard.press("j")  # select the second place
    page.keyboard.press("J")  # move it down one
    page.keyboard.press("Enter")
    expect(page.locator("#workspace .task.done")).to_be_visible()
    expected = [shown[2], shown[1], shown[0], shown[3]]
    ((annotation, lease),) = _stored(project_id)
    assert lease.order == shown
    assert annotation.result == {"ranking": expected}


def test_script_and_img_payloads_are_shown_as_text_and_never_run(page: Page, live_server: str) -> None:
    payload = '<script>window.__xss = 1</script> and <img src=x onerror="window.__xss = 2">'
    rows = [{"prompt": f"Explain {payload}", "responses": [payload, f"`{payload}`"]}]
    project_id, email = _project("pairwise", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator(".response").first).to_contain_text("<script>window.__xss = 1</script>")
    expect(page.locator(".response").first).to_contain_text('<img src=x onerror="window.__xss = 2">')
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".response img").count() == 0 and page.locator(".response script").count() == 0


def test_key_map_opens_with_question_mark_and_undo_changes_the_last_answer(
    page: Page, live_server: str
) -> None:
    rows = [{"prompt": f"Pick the label for ticket {i}"} for i in range(2)]
    project_id, email = _project("classification", rows, labels=["billing", "bug", "other"])
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    page.keyboard.press("?")
    expect(page.locator("#keymap")).to_be_visible()
    expect(page.locator("#keymap")).to_contain_text("Undo")
    page.keyboard.press("Escape")
    expect(page.locator("#keymap")).to_be_hidden()
    first = page.locator("#workspace section.task").get_attribute("data-task")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator(f'#workspace section.task[data-task="{first}"]')).to_have_count(0)
    page.keyboard.press("u")  # back to the first task, its answer shown
    expect(page.locator(f'#workspace section.task.editing[data-task="{first}"]')).to_have_count(1)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator(f'#workspace section.task[data-task="{first}"]')).to_have_count(0)
    ((annotation, _),) = _stored(project_id)
    assert annotation.result == {"labels": ["other"]}
