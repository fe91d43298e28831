"""Bulk actions through POST /api/v1/projects/{pid}/tasks/bulk: each changes what it says on the tasks named
by id or matched by a filter, and leaves an audit event per changed task (the task's history) and one for the
request; a re-queued task is served and counted again by the annotation loop; deleting asks for
confirmation; the selection's JSON Lines stream with every answer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import session_scope
from app.labeling.queue import claim_next_task
from app.labeling.schemas import AnnotationPut
from app.labeling.service import submit_annotation
from app.main import create_app
from app.models import Annotation, AuditEvent, Project, Role, Task, User
from tests import factories


def _auth(db: Session, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}


def _bulk(client: TestClient, db: Session, project: Project, user: User, **body: Any) -> Any:
    return client.post(f"/api/v1/projects/{project.id}/tasks/bulk", headers=_auth(db, user), json=body)


def _events(db: Session, project: Project, action: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.project_id == project.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


def _choice(task: Task, i: int) -> dict[str, Any]:
    return {"choice": task.responses[i]["id"], "strength": 1}


def test_set_priority_on_chosen_tasks(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 4)
    tasks[0].given_priority = 7  # the loop was ordering it
    db.flush()
    r = _bulk(
        client, db, project, lead, action="set_priority", priority=9, task_ids=[tasks[0].id, tasks[2].id]
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"action": "set_priority", "matched": 2, "changed": 2, "skipped": 0}
    db.expire_all()
    assert [t.priority for t in tasks] == [9, 0, 9, 0] and tasks[0].given_priority is None
    per_task = _events(db, project, "task.priority")
    assert sorted(e.target_id for e in per_task) == sorted([str(tasks[0].id), str(tasks[2].id)])
    assert {e.user_id for e in per_task} == {lead.id} and per_task[0].details["priority"] == 9
    (summary,) = _events(db, project, "tasks.bulk")
    assert summary.details["operation"] == "set_priority" and summary.details["changed"] == 2
    assert summary.details["scope"] == "ids" and summary.target_type == "project"


def test_an_action_on_a_filter_reaches_every_matching_task_and_no_other(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 5)
    for task in tasks[:3]:
        task.status = "done"
    other = factories.make_project(db, lead=lead)
    (elsewhere,) = factories.make_tasks(db, other, 1)
    elsewhere.status = "done"
    db.flush()
    r = _bulk(client, db, project, lead, action="set_priority", priority=-3, filter={"status": ["done"]})
    assert r.json()["changed"] == 3
    db.expire_all()
    assert [t.priority for t in tasks] == [-3, -3, -3, 0, 0] and elsewhere.priority == 0
    (summary,) = _events(db, project, "tasks.bulk")
    assert summary.details["scope"] == "filter" and summary.details["filter"] == {"status": ["done"]}


def test_mark_gold_takes_the_reviewed_or_agreed_answer(client: TestClient, db: Session) -> None:
    """Agreeing answers become gold; a correction wins over the answers; a split task, a single unreviewed
    answer and a task without answers are left alone."""
    lead, a, b, reviewer = (factories.make_user(db) for _ in range(4))
    project = factories.make_project(db, lead=lead, settings={"overlap": 2})
    agreed, split, corrected, unanswered, single = factories.make_tasks(db, project, 5)
    factories.make_annotation(db, single, a, _choice(single, 0))
    for person in (a, b):
        factories.make_annotation(db, agreed, person, _choice(agreed, 1))
    factories.make_annotation(db, split, a, _choice(split, 0))
    factories.make_annotation(db, split, b, _choice(split, 1))
    wrong = factories.make_annotation(db, corrected, a, _choice(corrected, 0))
    factories.make_review(db, wrong, reviewer, "correct", result=_choice(corrected, 1))
    ids = [agreed.id, split.id, corrected.id, unanswered.id, single.id]
    r = _bulk(client, db, project, lead, action="mark_gold", task_ids=ids)
    assert r.json() == {"action": "mark_gold", "matched": 5, "changed": 2, "skipped": 3}
    db.expire_all()
    assert agreed.gold == _choice(agreed, 1) and corrected.gold == _choice(corrected, 1)
    assert split.gold is None and unanswered.gold is None and single.gold is None
    events = _events(db, project, "task.gold")
    assert sorted(e.target_id for e in events) == sorted([str(agreed.id), str(corrected.id)])


def test_unmark_gold_clears_the_gold_tasks_of_the_filter(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 3)
    tasks[1].gold = _choice(tasks[1], 0)
    db.flush()
    r = _bulk(client, db, project, lead, action="unmark_gold", filter={})
    assert r.json()["matched"] == 3 and r.json()["changed"] == 1
    db.expire_all()
    assert all(t.gold is None for t in tasks)
    r = client.get(f"/api/v1/projects/{project.id}/tasks?gold=true", headers=_auth(db, lead))
    assert r.json()["items"] == []  # no JSON null left behind: the column is empty
    assert [e.target_id for e in _events(db, project, "task.gold")] == [str(tasks[1].id)]


def test_requeue_opens_done_and_closed_tasks_for_more(client: TestClient, db: Session) -> None:
    """A done task (2 of 2) re-queued for one more wants a third; a closed one opens again (its overlap
    still wants answers)."""
    lead, a, b, c = (factories.make_user(db) for _ in range(4))
    project = factories.make_project(db, lead=lead, settings={"overlap": 2})
    factories.add_member(db, project, c, Role.annotator)
    task, closed = factories.make_tasks(db, project, 2)
    for person in (a, b):
        factories.make_annotation(db, task, person, _choice(task, 0))
    task.status = "done"
    closed.status = "closed"
    db.flush()
    r = _bulk(client, db, project, lead, action="requeue", more=1, task_ids=[task.id, closed.id])
    assert r.json()["changed"] == 2, r.text
    db.expire_all()
    assert (task.status, task.extra_overlap, closed.status, closed.extra_overlap) == ("open", 1, "open", 0)
    events = _events(db, project, "task.requeue")
    assert {e.target_id for e in events} == {str(task.id), str(closed.id)} and events[0].details["more"] == 1


def test_a_requeued_task_is_served_and_counted_again(db: Session) -> None:
    """The annotation loop honours the task's extra overlap: a third annotator is served the re-queued task
    and their answer completes it at three."""
    lead, a, b, c = (factories.make_user(db) for _ in range(4))
    project = factories.make_project(db, lead=lead, settings={"overlap": 2})
    factories.add_member(db, project, c, Role.annotator)
    (task,) = factories.make_tasks(db, project, 1)
    for person in (a, b):
        factories.make_annotation(db, task, person, _choice(task, 0))
    task.status = "done"
    db.flush()
    assert claim_next_task(db, project=project, user=c) is None  # done: nothing for c
    from app.datamanager.bulk import run_bulk
    from app.datamanager.schemas import BulkRequest

    run_bulk(db, project=project, request=BulkRequest(action="requeue", task_ids=[task.id]), user=lead)
    claim = claim_next_task(db, project=project, user=c)
    assert claim is not None and claim.task.id == task.id
    body = AnnotationPut(task_id=task.id, result=_choice(task, 1), assignment_id=claim.assignment.id)
    submit_annotation(db, annotation_uuid="6f1c1f0e-8a1d-4c36-9d35-7d1b5f0e9a01", user=c, body=body)
    db.expire_all()
    assert (task.annotation_count, task.status) == (3, "done")


def test_delete_needs_confirmation_and_removes_the_tasks_with_their_answers(
    client: TestClient, db: Session
) -> None:
    lead, a = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    doomed, kept = factories.make_tasks(db, project, 2)
    factories.make_annotation(db, doomed, a)
    factories.make_flag(db, doomed, a)
    gone = doomed.id
    refused = _bulk(client, db, project, lead, action="delete", task_ids=[gone])
    assert refused.status_code == 422 and "confirm" in refused.text
    r = _bulk(client, db, project, lead, action="delete", task_ids=[gone], confirm=True)
    assert r.json()["changed"] == 1
    db.expunge(doomed)
    assert db.get(Task, gone) is None and db.get(Task, kept.id) is not None
    assert db.scalars(select(Annotation).where(Annotation.task_id == gone)).all() == []
    assert [e.target_id for e in _events(db, project, "task.delete")] == [str(gone)]
    assert _events(db, project, "tasks.bulk")[0].details["operation"] == "delete"


def test_ids_of_another_projects_tasks_are_refused(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    (mine,) = factories.make_tasks(db, project, 1)
    other = factories.make_project(db, lead=lead)
    (theirs,) = factories.make_tasks(db, other, 1)
    r = _bulk(client, db, project, lead, action="set_priority", priority=1, task_ids=[mine.id, theirs.id])
    assert r.status_code == 422 and "not tasks of this project" in r.text
    db.expire_all()
    assert mine.priority == 0 and theirs.priority == 0
    assert _events(db, project, "tasks.bulk") == []


@pytest.mark.parametrize(
    "body",
    [
        {"action": "set_priority", "task_ids": [1]},  # no priority
        {"action": "requeue"},  # neither ids nor filter
        {"action": "requeue", "task_ids": [1], "filter": {}},  # both
        {"action": "shred", "filter": {}},
    ],
)
def test_a_request_that_does_not_say_enough_is_refused(
    body: dict[str, Any], client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    assert _bulk(client, db, project, lead, **body).status_code == 422


def test_the_selection_streams_as_json_lines(committed: None) -> None:
    """Through a real server session (the stream reads on a connection of its own, after the request)."""
    with session_scope() as s:
        lead, a = factories.make_user(s), factories.make_user(s)
        project = factories.make_project(s, lead=lead)
        tasks = factories.make_tasks(s, project, 3)
        factories.make_annotation(s, tasks[2], a)
        token = factories.make_token(s, lead)
        pid, ids = project.id, [t.id for t in tasks]
    with TestClient(create_app()) as client:
        r = client.post(f"/api/v1/projects/{pid}/tasks/export", headers={"Authorization": f"Bearer {token}"},
                        json={"task_ids": [ids[2], ids[0]]})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/jsonl")
        rows = [orjson.loads(line) for line in r.content.splitlines()]
        assert [row["id"] for row in rows] == [ids[0], ids[2]]
        assert rows[0]["annotations"] == [] and rows[1]["annotations"][0]["user_id"] == a.id
        assert rows[1]["prompt"] == "Question 2?" and len(rows[1]["responses"]) == 2
        auth = {"Authorization": f"Bearer {token}"}
        whole = client.post(f"/api/v1/projects/{pid}/tasks/export", headers=auth, json={"filter": {}})
        assert len(whole.content.splitlines()) == 3
    with session_scope() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "tasks.export")).all()
        assert [e.details["count"] for e in events] == [2, 3]
