"""What schemathesis (bench/api_fuzz.py) found past the path ids: ids in JSON bodies and query strings
beyond BIGINT, a page cursor of non-ASCII digits or past the largest id. Each is a 4xx or a page, never
a 500, on both back ends; and a value the database refuses (PostgreSQL's DataError, sqlite3's overflow)
is a 422 wherever it comes from."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app.web.deps import SessionDep
from tests import factories

TOO_BIG = 2**63
BIG = [TOO_BIG]
ANNOTATION = "6a1f4a34-5f7e-4a55-9d8e-0d2b8e7f1c11"


def test_ids_past_bigint_in_bodies_and_queries_are_422s(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=lead)
    factories.make_tasks(db, project, n=2)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    pid = project.id
    sent: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"/api/v1/projects/{pid}/prelabel", {"mode": "judge", "task_ids": [TOO_BIG]}),
        ("POST", f"/api/v1/projects/{pid}/prelabel", {"mode": "generate", "policy_models": [TOO_BIG]}),
        (
            "PUT",
            "/api/v1/annotations/6a1f4a34-5f7e-4a55-9d8e-0d2b8e7f1c11",
            {"task_id": TOO_BIG, "result": {}},
        ),
        ("POST", f"/api/v1/projects/{pid}/scoring", {"model_id": TOO_BIG}),
        ("POST", f"/api/v1/projects/{pid}/scoring", {"model_id": 1, "task_ids": [TOO_BIG]}),
        (
            "POST",
            f"/api/v1/projects/{pid}/snapshots",
            {"format": "raw", "filters": {"annotators": [TOO_BIG]}},
        ),
        ("POST", "/api/v1/training-jobs", {"snapshot_id": TOO_BIG, "method": "sft", "base_model": "x"}),
        ("GET", f"/api/v1/projects/{pid}/suggestions?task_id={TOO_BIG}", None),
        ("GET", f"/api/v1/projects/{pid}/review-queue?annotator={TOO_BIG}", None),
    ]
    rounds = client.post(f"/api/v1/projects/{pid}/rounds", headers=auth, json={})
    assert rounds.status_code == 201, rounds.text
    sent.append(("PATCH", f"/api/v1/projects/{pid}/rounds/{rounds.json()['id']}", {"snapshot_id": TOO_BIG}))
    failures = []
    for method, url, body in sent:
        r = client.request(method, url, headers=auth, json=body)
        if r.status_code != 422:
            failures.append(f"{method} {url} {body}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_a_page_cursor_that_is_no_id_starts_or_ends_the_list(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=lead)
    factories.make_tasks(db, project, n=2)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    for path in ("/api/v1/models", f"/api/v1/projects/{project.id}/tasks"):
        first = client.get(path, headers=auth, params={"cursor": "³"})  # isdigit(), but no int()
        assert first.status_code == 200, first.text
        past = client.get(path, headers=auth, params={"cursor": "9" * 30})
        assert past.status_code == 200, past.text
        assert past.json()["items"] == []
    tasks = client.get(f"/api/v1/projects/{project.id}/tasks", headers=auth, params={"cursor": "³"}).json()
    assert len(tasks["items"]) == 2


def test_a_value_the_database_refuses_is_a_422_not_a_500(app: Any, db: Session) -> None:
    @app.get("/api/v1/test-cast")
    def cast(session: SessionDep) -> dict[str, int]:
        value = session.execute(
            text("SELECT CAST(:v AS BIGINT)").bindparams(bindparam("v", type_=None)), {"v": TOO_BIG}
        ).scalar_one()
        return {"value": value}

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/test-cast")
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("the request is not valid:")
