from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests import factories


def _setup(db: Session, n: int = 2, **settings: object):  # type: ignore[no-untyped-def]
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead, settings=dict(settings))
    tasks = factories.make_tasks(db, project, n)
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    auth = {"Authorization": f"Bearer {factories.make_token(db, annotator)}"}
    return project, tasks, annotator, auth, {"Authorization": f"Bearer {factories.make_token(db, lead)}"}


def test_next_put_and_repeat(client: TestClient, db: Session) -> None:
    project, tasks, _, auth, _ = _setup(db, 1)
    r = client.post(f"/api/v1/projects/{project.id}/next", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["task"]["id"] == tasks[0].id and sorted(body["assignment"]["order"]) == ["a", "b"]
    again = client.post(f"/api/v1/projects/{project.id}/next", headers=auth).json()
    assert again["assignment"]["id"] == body["assignment"]["id"]
    key = str(uuid.uuid4())
    put = {
        "task_id": tasks[0].id,
        "assignment_id": body["assignment"]["id"],
        "lead_time_ms": 1200,
        "result": {"choice": "b", "strength": 3},
    }
    first = client.put(f"/api/v1/annotations/{key}", headers=auth, json=put)
    assert first.status_code == 201 and first.json()["result"] == {"choice": "b", "strength": 3}
    repeat = client.put(f"/api/v1/annotations/{key}", headers=auth, json=put)
    assert repeat.status_code == 200 and repeat.json()["uuid"] == key
    changed = client.put(f"/api/v1/annotations/{key}", headers=auth, json={**put, "result": {"choice": "a"}})
    assert changed.status_code == 409
    assert client.post(f"/api/v1/projects/{project.id}/next", headers=auth).status_code == 204
    progress = client.get(f"/api/v1/projects/{project.id}", headers=auth).json()
    assert progress["annotation_count"] == 1 and progress["done_count"] == 1


def test_results_name_responses_by_id_and_bad_ones_are_422(client: TestClient, db: Session) -> None:
    _project, tasks, _, auth, _ = _setup(db, 1)
    for result in ({"choice": 0}, {"choice": "A"}, {"choice": "a", "strength": 4}, {"ranking": ["a", "b"]}):
        r = client.put(
            f"/api/v1/annotations/{uuid.uuid4()}",
            headers=auth,
            json={"task_id": tasks[0].id, "result": result},
        )
        assert r.status_code == 422, result
    assert (
        client.put(
            "/api/v1/annotations/not-a-uuid",
            headers=auth,
            json={"task_id": tasks[0].id, "result": {"choice": "a"}},
        ).status_code
        == 422
    )


def test_edit_keeps_history_and_annotators_are_blind_to_others(client: TestClient, db: Session) -> None:
    project, tasks, _, auth, lead_auth = _setup(db, 1, overlap=2)
    key = str(uuid.uuid4())
    assert (
        client.put(
            f"/api/v1/annotations/{key}",
            headers=auth,
            json={"task_id": tasks[0].id, "result": {"choice": "a"}},
        ).status_code
        == 201
    )
    r = client.patch(f"/api/v1/annotations/{key}", headers=auth, json={"result": {"choice": "tie"}})
    assert r.status_code == 200 and r.json()["result"] == {"choice": "tie"}
    from sqlalchemy import select

    from app.models import Annotation, AnnotationRevision

    annotation = db.scalar(select(Annotation).where(Annotation.uuid == key))
    history = db.scalars(
        select(AnnotationRevision).where(AnnotationRevision.annotation_id == annotation.id)
    ).all()  # type: ignore[union-attr]
    assert [h.result for h in history] == [{"choice": "a"}]
    other = factories.make_user(db)
    factories.add_member(db, project, other, Role.annotator)
    other_auth = {"Authorization": f"Bearer {factories.make_token(db, other)}"}
    assert client.get(f"/api/v1/annotations/{key}", headers=other_auth).status_code == 403
    assert (
        client.patch(
            f"/api/v1/annotations/{key}", headers=other_auth, json={"result": {"choice": "b"}}
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/annotations/{key}", headers=lead_auth).status_code == 200
    listed = client.get(f"/api/v1/projects/{project.id}/annotations", headers=lead_auth).json()
    assert [a["uuid"] for a in listed["items"]] == [key]


def test_skip_and_flags_reach_the_leads(client: TestClient, db: Session) -> None:
    project, tasks, _, auth, lead_auth = _setup(db, 2)
    first = client.post(f"/api/v1/projects/{project.id}/next", headers=auth).json()
    r = client.post(
        f"/api/v1/assignments/{first['assignment']['id']}/skip", headers=auth, json={"reason": "x"}
    )
    assert r.status_code == 200
    second = client.post(f"/api/v1/projects/{project.id}/next", headers=auth).json()
    assert second["task"]["id"] != first["task"]["id"]
    r = client.post(
        f"/api/v1/tasks/{tasks[0].id}/flags",
        headers=auth,
        json={"reason": "harmful", "comment": "asks for malware"},
    )
    assert r.status_code == 201
    flags = client.get(f"/api/v1/projects/{project.id}/flags", headers=lead_auth).json()
    assert [(f["reason"], f["comment"]) for f in flags] == [("harmful", "asks for malware")]
    resolved = client.post(f"/api/v1/projects/{project.id}/flags/{flags[0]['id']}/resolve", headers=lead_auth)
    assert resolved.json()["resolved_at"] is not None
    assert client.get(f"/api/v1/projects/{project.id}/flags", headers=lead_auth).json() == []


def test_an_expired_lease_returns_its_task_to_the_pool(client: TestClient, db: Session) -> None:
    project, tasks, _, auth, _ = _setup(db, 1)
    first = client.post(f"/api/v1/projects/{project.id}/next", headers=auth).json()
    other = factories.make_user(db)
    factories.add_member(db, project, other, Role.annotator)
    other_auth = {"Authorization": f"Bearer {factories.make_token(db, other)}"}
    assert client.post(f"/api/v1/projects/{project.id}/next", headers=other_auth).status_code == 204
    from datetime import timedelta

    from app.models import Assignment

    lease = db.get(Assignment, first["assignment"]["id"])
    assert lease is not None
    lease.expires_at = lease.expires_at - timedelta(hours=1)
    db.flush()
    r = client.post(f"/api/v1/projects/{project.id}/next", headers=other_auth)
    assert r.status_code == 200 and r.json()["task"]["id"] == tasks[0].id
    db.expire_all()
    assert db.get(Assignment, first["assignment"]["id"]).status == "expired"  # type: ignore[union-attr]
    assert tasks[0].reserved == 1  # the expired place was given back, the new lease holds one


def test_a_removed_member_cannot_change_their_answers(client: TestClient, db: Session) -> None:
    project, tasks, annotator, auth, lead_auth = _setup(db, 1)
    key = str(uuid.uuid4())
    assert (
        client.put(
            f"/api/v1/annotations/{key}",
            headers=auth,
            json={"task_id": tasks[0].id, "result": {"choice": "a"}},
        ).status_code
        == 201
    )
    assert (
        client.delete(f"/api/v1/projects/{project.id}/members/{annotator.id}", headers=lead_auth).status_code
        == 204
    )
    assert (
        client.patch(f"/api/v1/annotations/{key}", headers=auth, json={"result": {"choice": "b"}}).status_code
        == 404
    )
