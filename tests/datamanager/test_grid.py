"""The data manager's grid through GET /api/v1/projects/{pid}/tasks: each filter finds exactly its tasks, each
sort pages through every task once (no duplicate, no gap, a non-unique column included), the route's old
contract holds without filters, agreement is kept up to date, and flags stay the leads'."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.labeling.service import edit_annotation
from app.models import Project, Role, Task, TaskFlag, User, utcnow
from app.quality.task_agreement import refresh_agreement
from tests import factories


def _auth(db: Session, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}


@dataclass
class Grid:
    project: Project
    lead: User
    reviewer: User
    annotator: User
    tasks: list[Task]


def _set(task: Task, **values: Any) -> Task:
    for key, value in values.items():
        setattr(task, key, value)
    if "annotation_count" in values:
        task.agreement_n = values["annotation_count"]  # kept figures, fresh for their count
    return task


@pytest.fixture
def grid(db: Session) -> Grid:
    lead, reviewer, annotator = (factories.make_user(db) for _ in range(3))
    project = factories.make_project(db, kind="pairwise", lead=lead, settings={"overlap": 2})
    factories.add_member(db, project, reviewer, Role.reviewer)
    factories.add_member(db, project, annotator, Role.annotator)
    prompts = ["How do I bake bread?", "Explain quantum tunnelling", "Bread or cake?", "What is 50% of 10?",
               "A_B test design"]  # fmt: skip
    tasks = [factories.make_task(db, project, p, ["first", "second"]) for p in prompts]
    _set(tasks[0], meta={"source": "web", "lang": "en"})
    _set(tasks[1], status="done", annotation_count=2, agreement=1.0, gold={"choice": "a"},
         meta={"source": "api", "n": 3})  # fmt: skip
    _set(tasks[2], status="done", annotation_count=2, agreement=0.5, meta={"source": "web", "flag": True})
    _set(tasks[3], status="closed", annotation_count=1, priority=5)
    _set(tasks[4], annotation_count=3, agreement=2 / 3, priority=5)
    factories.make_suggestion(db, tasks[2])
    factories.make_suggestion(db, tasks[4], error="the endpoint failed")  # not a usable suggestion
    factories.make_flag(db, tasks[3], annotator)
    resolved = factories.make_flag(db, tasks[4], annotator)
    resolved.resolved_at = utcnow()
    db.flush()
    return Grid(project, lead, reviewer, annotator, tasks)


FILTERS = [
    ("status=done", {1, 2}),
    ("status=open&status=closed", {0, 3, 4}),
    ("min_annotations=2", {1, 2, 4}),
    ("max_annotations=1", {0, 3}),
    ("min_annotations=1&max_annotations=2", {1, 2, 3}),
    ("min_agreement=0.6", {1, 4}),
    ("max_agreement=0.6", {2}),
    ("has_suggestion=true", {2}),
    ("has_suggestion=false", {0, 1, 3, 4}),
    ("gold=true", {1}),
    ("gold=false", {0, 2, 3, 4}),
    ("flagged=true", {3}),
    ("flagged=false", {0, 1, 2, 4}),  # a resolved flag is no flag
    ("meta=source%3Dweb", {0, 2}),
    ("meta=n%3D3", {1}),  # a number matches as text
    ("meta=flag%3Dtrue", {2}),  # and so does a boolean
    ("meta=source%3Dweb&meta=lang%3Den", {0}),
    ("q=bread", {0, 2}),  # case-insensitive
    ("q=50%25", {3}),  # % is a character, not a wildcard
    ("q=A_B", {4}),  # and so is _
    ("status=done&q=bread", {2}),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[q for q, _ in FILTERS])
def test_each_filter_finds_exactly_its_tasks(
    query: str, expected: set[int], grid: Grid, client: TestClient, db: Session
) -> None:
    r = client.get(f"/api/v1/projects/{grid.project.id}/tasks?{query}", headers=_auth(db, grid.lead))
    assert r.status_code == 200, r.text
    found = {item["id"] for item in r.json()["items"]}
    assert found == {grid.tasks[i].id for i in expected}


def test_a_row_says_what_the_grid_filters_on(grid: Grid, client: TestClient, db: Session) -> None:
    r = client.get(f"/api/v1/projects/{grid.project.id}/tasks", headers=_auth(db, grid.lead))
    rows = {item["id"]: item for item in r.json()["items"]}
    gold, split, flagged = rows[grid.tasks[1].id], rows[grid.tasks[2].id], rows[grid.tasks[3].id]
    assert gold["gold"] is True and gold["agreement"] == 1.0 and gold["has_suggestion"] is False
    assert split["has_suggestion"] is True and split["agreement"] == 0.5 and split["open_flags"] == 0
    assert flagged["open_flags"] == 1 and flagged["status"] == "closed"
    # the task as GET /api/v1/tasks/{id} answers it is all there
    assert {"prompt", "responses", "meta", "priority", "external_id", "created_at"} <= set(gold)


def _all_pages(client: TestClient, url: str, headers: dict[str, str]) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(50):
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.text
        ids += [item["id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the pages never ended")


SORTS = ["id", "-id", "priority", "-priority", "annotations", "-annotations", "agreement", "-agreement"]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_pages_through_each_task_once(sort: str, client: TestClient, db: Session) -> None:
    """Priorities, counts and agreements repeat: a keyset on the column alone would skip or repeat tasks
    at the page edges (two tasks a page)."""
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead, settings={"overlap": 3})
    tasks = factories.make_tasks(db, project, 9)
    for i, task in enumerate(tasks):
        _set(task, priority=[2, 1, 2, 1, 2, 0, 1, 2, 2][i], annotation_count=[0, 2, 2, 3, 2, 0, 3, 2, 1][i])
        task.agreement = None if task.annotation_count < 2 else [1.0, 0.5, 0.5, 2 / 3][i % 4]
    db.flush()
    column = sort.removeprefix("-")
    attribute = {
        "id": "id",
        "priority": "priority",
        "annotations": "annotation_count",
        "agreement": "agreement",
    }
    pool = [t for t in tasks if column != "agreement" or t.agreement is not None]
    expected = sorted(pool, key=lambda t: (getattr(t, attribute[column]), t.id), reverse=sort.startswith("-"))
    ids = _all_pages(client, f"/api/v1/projects/{project.id}/tasks?limit=2&sort={sort}", _auth(db, lead))
    assert len(ids) == len(set(ids)), "a task came twice"
    assert ids == [t.id for t in expected]


def test_without_filters_the_route_answers_as_it_always_did(
    grid: Grid, client: TestClient, db: Session
) -> None:
    """Id order; the cursor is the last id on the page; the last page says null."""
    url = f"/api/v1/projects/{grid.project.id}/tasks"
    first = client.get(f"{url}?limit=2", headers=_auth(db, grid.reviewer)).json()
    assert [t["id"] for t in first["items"]] == [grid.tasks[0].id, grid.tasks[1].id]
    assert first["next_cursor"] == str(grid.tasks[1].id)
    rest = client.get(
        f"{url}?limit=10&cursor={first['next_cursor']}", headers=_auth(db, grid.reviewer)
    ).json()
    assert [t["id"] for t in rest["items"]] == [t.id for t in grid.tasks[2:]]
    assert rest["next_cursor"] is None


def test_a_cursor_from_another_sort_is_refused(grid: Grid, client: TestClient, db: Session) -> None:
    url = f"/api/v1/projects/{grid.project.id}/tasks?limit=1&sort=priority"
    cursor = client.get(url, headers=_auth(db, grid.lead)).json()["next_cursor"]
    r = client.get(f"{url.replace('priority', '-annotations')}&cursor={cursor}", headers=_auth(db, grid.lead))
    assert r.status_code == 422 and "cursor" in r.json()["detail"]
    bad = client.get(f"{url}&cursor=nonsense", headers=_auth(db, grid.lead))
    assert bad.status_code == 422


def test_a_cursor_past_64_bits_ends_the_list_instead_of_failing(
    grid: Grid, client: TestClient, db: Session
) -> None:
    url = f"/api/v1/projects/{grid.project.id}/tasks?sort=priority"
    huge = 10**30
    cursor = base64.urlsafe_b64encode(json.dumps(["priority", huge, huge]).encode()).decode().rstrip("=")
    r = client.get(f"{url}&cursor={cursor}", headers=_auth(db, grid.lead))
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []


def test_bad_filters_are_refused_with_their_name(grid: Grid, client: TestClient, db: Session) -> None:
    url = f"/api/v1/projects/{grid.project.id}/tasks"
    bad = [("meta=novalue", "meta"), ('meta=a"b%3D1', "meta"), ("min_agreement=2", "min_agreement"),
           ("status=lost", "status"), ("sort=colour", "sort")]  # fmt: skip
    for query, needle in bad:
        r = client.get(f"{url}?{query}", headers=_auth(db, grid.lead))
        assert r.status_code == 422, query
        assert needle in r.text, r.text


def test_flags_are_the_leads(grid: Grid, client: TestClient, db: Session) -> None:
    url = f"/api/v1/projects/{grid.project.id}/tasks"
    reviewer = _auth(db, grid.reviewer)
    assert client.get(f"{url}?flagged=true", headers=reviewer).status_code == 403
    rows = client.get(url, headers=reviewer).json()["items"]
    assert {row["open_flags"] for row in rows} == {None}


def test_annotators_cannot_see_the_data_manager(grid: Grid, client: TestClient, db: Session) -> None:
    pid = grid.project.id
    annotator = _auth(db, grid.annotator)
    assert client.get(f"/api/v1/projects/{pid}/tasks", headers=annotator).status_code == 403
    body = {"action": "set_priority", "priority": 1, "task_ids": [grid.tasks[0].id]}
    assert client.post(f"/api/v1/projects/{pid}/tasks/bulk", headers=annotator, json=body).status_code == 403
    assert client.post(f"/api/v1/projects/{pid}/tasks/bulk", headers=_auth(db, grid.reviewer),
                       json=body).status_code == 403  # fmt: skip
    csrf = factories_sign_in(client, grid.annotator)
    assert client.get(f"/projects/{pid}/tasks").status_code == 403
    assert client.get(f"/projects/{pid}/tasks/{grid.tasks[0].id}").status_code == 403
    form = {"csrf_token": csrf, "action": "delete", "scope": "filter", "confirm": "yes"}
    assert client.post(f"/projects/{pid}/tasks/bulk", data=form).status_code == 403
    assert db.get(Task, grid.tasks[0].id) is not None


def factories_sign_in(client: TestClient, user: User) -> str:
    from tests.conftest import sign_in

    return sign_in(client, user.id)


def test_agreement_is_kept_from_the_answers(client: TestClient, db: Session) -> None:
    """Two answers that differ give 50 %; an edit makes the figure stale and the refresh follows it; a
    third answer is picked up by the next page that filters on agreement."""
    lead = factories.make_user(db)
    people = [factories.make_user(db) for _ in range(3)]
    project = factories.make_project(db, lead=lead, settings={"overlap": 3})
    (task,) = factories.make_tasks(db, project, 1)
    first = factories.make_annotation(db, task, people[0], {"choice": task.responses[0]["id"], "strength": 1})
    factories.make_annotation(db, task, people[1], {"choice": task.responses[1]["id"], "strength": 0})
    url = f"/api/v1/projects/{project.id}/tasks?max_agreement=0.5"
    (row,) = client.get(url, headers=_auth(db, lead)).json()["items"]
    assert row["agreement"] == 0.5
    for person in people:
        factories.add_member(db, project, person, Role.annotator)
    edit_annotation(db, annotation_uuid=first.uuid, user=people[0],
                    result={"choice": task.responses[1]["id"], "strength": 0})  # fmt: skip
    db.flush()
    assert refresh_agreement(db, project) == 1
    db.refresh(task)
    assert task.agreement == 1.0
    factories.make_annotation(db, task, people[2], {"choice": task.responses[0]["id"], "strength": 1})
    db.flush()
    (row,) = client.get(
        url.replace("max_agreement=0.5", "max_agreement=0.7"), headers=_auth(db, lead)
    ).json()["items"]
    assert row["agreement"] == pytest.approx(2 / 3) and row["annotation_count"] == 3


def test_flags_filter_ignores_another_projects_flags(grid: Grid, client: TestClient, db: Session) -> None:
    other = factories.make_project(db, lead=grid.lead)
    (elsewhere,) = factories.make_tasks(db, other, 1)
    db.add(TaskFlag(task_id=elsewhere.id, project_id=other.id, user_id=grid.lead.id, reason="other"))
    db.flush()
    r = client.get(f"/api/v1/projects/{grid.project.id}/tasks?flagged=true", headers=_auth(db, grid.lead))
    assert {item["id"] for item in r.json()["items"]} == {grid.tasks[3].id}
