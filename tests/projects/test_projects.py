from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests import factories


def _auth(db: Session, user: factories.User) -> dict[str, str]:  # type: ignore[name-defined]
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}


@pytest.mark.parametrize("kind", ["pairwise", "ranking", "rating", "sft", "classification", "trajectory"])
def test_name_and_kind_alone_make_a_working_project(kind: str, client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    r = client.post("/api/v1/projects", headers=_auth(db, admin), json={"name": f"My {kind}", "kind": kind})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == kind and body["settings"]["overlap"] == 1 and body["task_count"] == 0
    assert body["my_role"] == "lead"


@pytest.mark.parametrize(
    ("kind", "settings", "needle"),
    [
        ("rating", {"scale_min": 5, "scale_max": 3}, "scale_max"),
        ("classification", {"labels": ["only"]}, "labels"),
        ("classification", {"labels": ["a", "a"]}, "distinct"),
        ("ranking", {"k": 1}, "k"),
        ("pairwise", {"overlap": 0}, "overlap"),
        ("pairwise", {"labels": ["x", "y"]}, "labels"),  # a setting of another kind
    ],
)
def test_settings_are_validated_per_kind(
    kind: str, settings: dict[str, object], needle: str, client: TestClient, db: Session
) -> None:
    admin = factories.make_user(db, is_admin=True)
    r = client.post(
        "/api/v1/projects", headers=_auth(db, admin), json={"name": "x", "kind": kind, "settings": settings}
    )
    assert r.status_code == 422
    assert needle in r.text


def test_lead_edits_settings_and_archives(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="classification", lead=lead)
    auth = _auth(db, lead)
    r = client.patch(
        f"/api/v1/projects/{project.id}",
        headers=auth,
        json={"settings": {"labels": ["spam", "ham"], "multi_label": True}, "instructions": "# Hi"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["labels"] == ["spam", "ham"] and r.json()["settings"]["multi_label"] is True
    bad = client.patch(f"/api/v1/projects/{project.id}", headers=auth, json={"settings": {"labels": []}})
    assert bad.status_code == 422
    assert client.delete(f"/api/v1/projects/{project.id}", headers=auth).status_code == 204
    listed = client.get("/api/v1/projects", headers=auth).json()["items"]
    assert project.id not in [p["id"] for p in listed]
    archived = client.get("/api/v1/projects?include_archived=true", headers=auth).json()["items"]
    assert [p["archived"] for p in archived if p["id"] == project.id] == [True]


def test_members_are_managed_by_leads_and_a_project_keeps_a_lead(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    someone = factories.make_user(db)
    auth = _auth(db, lead)
    r = client.put(
        f"/api/v1/projects/{project.id}/members/{someone.id}", headers=auth, json={"role": "reviewer"}
    )
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    # the new reviewer now sees the project, and its tasks list
    assert client.get(f"/api/v1/projects/{project.id}/tasks", headers=_auth(db, someone)).status_code == 200
    members = client.get(f"/api/v1/projects/{project.id}/members", headers=auth).json()
    assert {m["user_id"]: m["role"] for m in members} == {lead.id: "lead", someone.id: "reviewer"}
    last_lead = client.delete(f"/api/v1/projects/{project.id}/members/{lead.id}", headers=auth)
    assert last_lead.status_code == 422 and "lead" in last_lead.json()["detail"]
    assert (
        client.delete(f"/api/v1/projects/{project.id}/members/{someone.id}", headers=auth).status_code == 204
    )
    assert client.get(f"/api/v1/projects/{project.id}", headers=_auth(db, someone)).status_code == 404


def test_project_lists_paginate_and_show_only_my_projects(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    mine = [factories.make_project(db) for _ in range(5)]
    for p in mine:
        factories.add_member(db, p, user, Role.annotator)
    factories.make_project(db)  # not a member
    auth = _auth(db, user)
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/projects", headers=auth, params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.id for p in mine]


def test_progress_counts_tasks(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = factories.make_tasks(db, project, 4)
    tasks[0].status = "done"
    db.flush()
    body = client.get(f"/api/v1/projects/{project.id}", headers=_auth(db, lead)).json()
    assert body["task_count"] == 4 and body["done_count"] == 1 and body["progress"] == 0.25


def test_raising_the_overlap_reopens_done_tasks(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    task = factories.make_tasks(db, project, 1)[0]
    factories.make_annotation(db, task, lead)
    task.status = "done"
    db.flush()
    auth = _auth(db, lead)
    r = client.patch(f"/api/v1/projects/{project.id}", headers=auth, json={"settings": {"overlap": 2}})
    assert r.status_code == 200 and r.json()["done_count"] == 0
    db.refresh(task)
    assert task.status == "open"
    r = client.patch(f"/api/v1/projects/{project.id}", headers=auth, json={"settings": {"overlap": 1}})
    assert r.json()["done_count"] == 1
