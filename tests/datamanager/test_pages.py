"""The Tasks tab: the grid with its filter form, "more" pages through htmx, a task opened with its answers,
reviews, suggestions, flags and history, and the bulk form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Role, Task
from tests import factories
from tests.conftest import sign_in

HX = {"HX-Request": "true"}


def _row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-task="(\d+)"', html)]


def test_the_grid_pages_with_more_instead_of_a_total(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 53)
    sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/tasks?sort=-id")
    assert page.status_code == 200
    first = _row_ids(page.text)
    assert first == [t.id for t in reversed(tasks)][:50]
    assert "More tasks" in page.text and 'value="-id" selected' in page.text
    more = re.search(r'hx-get="(/projects/\d+/tasks\?[^"]+)"', page.text)
    assert more is not None
    rows = client.get(more.group(1).replace("&amp;", "&"), headers=HX)
    assert "<html" not in rows.text and "<tr" in rows.text
    assert _row_ids(rows.text) == [t.id for t in reversed(tasks)][50:]
    assert "End of the list" in rows.text and "More tasks" not in rows.text


def test_a_bad_filter_is_shown_in_place_with_the_input_kept(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/tasks?meta=lang&q=bread")
    assert page.status_code == 422
    assert "meta: write key=value" in page.text
    assert 'value="bread"' in page.text and 'value="lang"' in page.text


def test_an_opened_task_shows_everything_about_it(client: TestClient, db: Session) -> None:
    lead, annotator, reviewer = (factories.make_user(db) for _ in range(3))
    project = factories.make_project(db, lead=lead)
    factories.add_member(db, project, reviewer, Role.reviewer)
    task = factories.make_task(
        db, project, "Which reply is kinder?", ["Thanks!", "Whatever."], meta={"src": "forum"}
    )
    answer = factories.make_annotation(db, task, annotator)
    factories.make_review(db, answer, reviewer, "accept")
    factories.make_suggestion(db, task, cost=0.0123)
    flag = factories.make_flag(db, task, annotator, reason="harmful")
    flag.comment = "the second is rude"
    csrf = sign_in(client, lead.id)
    form = {
        "csrf_token": csrf,
        "action": "set_priority",
        "priority": "4",
        "scope": "selected",
        "task_ids": str(task.id),
    }
    assert client.post(f"/projects/{project.id}/tasks/bulk", data=form, headers=HX).status_code == 200

    panel = client.get(f"/projects/{project.id}/tasks/{task.id}", headers=HX)
    assert panel.status_code == 200 and "<html" not in panel.text
    text = panel.text
    shown = ["Which reply is kinder?", "Thanks!", "Whatever.", "forum", "accepted", "$0.0123", "clearer",
             "harmful", "the second is rude", "task.priority", "(bulk)", lead.email]  # fmt: skip
    for needle in shown:
        assert needle in text, needle
    assert annotator.email not in text  # annotators go by their pseudonyms
    whole = client.get(f"/projects/{project.id}/tasks/{task.id}")
    assert "<html" in whole.text and 'aria-current="page">Task #' in whole.text

    sign_in(client, reviewer.id)  # a reviewer sees the answers, not the leads' flags and history
    seen = client.get(f"/projects/{project.id}/tasks/{task.id}", headers=HX).text
    assert "Thanks!" in seen and "accepted" in seen
    assert "the second is rude" not in seen and "task.priority" not in seen
    grid = client.get(f"/projects/{project.id}/tasks").text
    assert 'name="flagged"' not in grid and 'id="bulk"' not in grid


def test_the_bulk_form_acts_on_the_selection_or_the_filter(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 3)
    tasks[2].status = "done"
    db.flush()
    csrf = sign_in(client, lead.id)
    url = f"/projects/{project.id}/tasks/bulk"
    chosen = {"csrf_token": csrf, "action": "set_priority", "priority": "8", "scope": "selected",
              "task_ids": [str(tasks[0].id), str(tasks[1].id)]}  # fmt: skip
    r = client.post(url, data=chosen, headers=HX)
    assert r.status_code == 200 and "2 of 2 task(s) changed" in r.text and 'id="grid"' in r.text
    every_done = {"csrf_token": csrf, "action": "requeue", "more": "2", "scope": "filter", "status": "done"}
    r = client.post(url, data=every_done, headers=HX)
    assert "1 of 1 task(s) changed" in r.text
    # the grid comes back with the same filter: the re-queued task is open now, so none is left
    assert (
        '<input type="hidden" name="status" value="done">' in r.text
        and "No task matches this filter" in r.text
    )
    db.expire_all()
    assert [t.priority for t in tasks] == [8, 8, 0] and (tasks[2].status, tasks[2].extra_overlap) == (
        "open",
        1,
    )

    unconfirmed = {"csrf_token": csrf, "action": "delete", "scope": "filter"}
    r = client.post(url, data=unconfirmed, headers=HX)
    assert r.status_code == 422 and "cannot be undone" in r.text
    nothing = {"csrf_token": csrf, "action": "mark_gold", "scope": "selected"}
    assert "select some tasks first" in client.post(url, data=nothing, headers=HX).text
    assert db.scalar(select(Task.id).where(Task.project_id == project.id).limit(1)) is not None
    confirmed = {**unconfirmed, "confirm": "yes"}
    assert "3 of 3 task(s) changed" in client.post(url, data=confirmed, headers=HX).text
    assert db.scalar(select(Task.id).where(Task.project_id == project.id).limit(1)) is None
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.project_id == project.id)).all()
    assert actions.count("task.delete") == 3 and actions.count("tasks.bulk") == 3
