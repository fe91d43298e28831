"""PostgreSQL refuses the NUL character in text and JSONB: a row holding one is a bad row (422 naming its
line and field, nothing imported) on both back ends, never a 500 from the database."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Project, Task
from tests import factories


def _setup(db: Session) -> tuple[Project, dict[str, str]]:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    return project, {"Authorization": f"Bearer {factories.make_token(db, lead)}"}


def _count(db: Session, project: Project) -> int:
    return db.scalar(select(func.count()).select_from(Task).where(Task.project_id == project.id)) or 0


def test_a_nul_in_a_jsonl_prompt_names_its_line_and_field(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    rows = [{"prompt": f"Q{i}", "responses": ["a", "b"]} for i in range(3)]
    rows[1]["prompt"] = "before\u0000after"
    data = "\n".join(json.dumps(r) for r in rows).encode()
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", data)})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["line"] == 2
    assert '"prompt"' in error["message"] and "NUL" in error["message"]
    assert _count(db, project) == 0


def test_a_nul_in_a_csv_cell_names_its_line(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    data = b"prompt,response_a,response_b,source\nQ1,a,b,x\nQ2,a\x00b,c,y\nQ3,a,b,z\n"
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.csv", data)})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["line"] == 3
    assert "response" in error["message"] and "NUL" in error["message"]
    assert _count(db, project) == 0


def test_a_nul_in_meta_keys_or_values_or_the_external_id(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    rows = [
        {"prompt": "Q1", "responses": ["a", "b"], "meta": {"k\u0000": 1}},
        {"prompt": "Q2", "responses": ["a", "b"], "extra": ["x", {"deep": "y\u0000"}]},
        {"prompt": "Q3", "responses": ["a", "b"], "external_id": "id\u0000"},
        {"prompt": "Q4", "responses": ["a", "b"], "meta": {"note": "a literal \\u0000 is only text"}},
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", data)})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["line"] for e in errors] == [1, 2, 3]
    assert '"meta"' in errors[0]["message"] and '"extra"' in errors[1]["message"]
    assert '"external_id"' in errors[2]["message"]
    ok = client.post(f"/api/v1/projects/{project.id}/tasks", headers=auth, json=rows[3:])
    assert ok.status_code == 201, ok.text


def test_a_nul_in_rows_sent_as_json_names_the_row_and_field(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    rows = [{"prompt": "Q1", "responses": ["a", "b"]}, {"prompt": "Q2", "responses": ["a", "b\u0000"]}]
    r = client.post(f"/api/v1/projects/{project.id}/tasks", headers=auth, json=rows)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", 1, "responses", 1]
    assert _count(db, project) == 0
