from __future__ import annotations

import gzip
import io
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


def _jsonl(n: int, start: int = 0) -> bytes:
    return "\n".join(
        json.dumps(
            {"external_id": f"row-{i}", "prompt": f"Explain item {i}", "responses": [f"A {i}", f"B {i}"]}
        )
        for i in range(start, start + n)
    ).encode()


def test_a_bad_line_rejects_the_whole_file_naming_its_line(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    lines = _jsonl(5).split(b"\n")
    lines[2] = b'{"prompt": "broken", '
    r = client.post(
        f"/api/v1/projects/{project.id}/imports",
        headers=auth,
        files={"file": ("tasks.jsonl", b"\n".join(lines))},
    )
    assert r.status_code == 422
    body = r.json()
    assert [e["line"] for e in body["errors"]] == [3]
    assert "JSON" in body["errors"][0]["message"]
    assert _count(db, project) == 0


def test_thousand_rows_import_then_all_duplicates_on_reupload(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    data = _jsonl(1000)
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", data)})
    if r.status_code == 202:  # larger than the inline limit: same answer through the job
        raise AssertionError("1,000 small rows should import inline")
    assert r.status_code == 201, r.text
    assert r.json() == {"imported": 1000, "duplicates": 0}
    again = client.post(
        f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", data)}
    )
    assert again.status_code == 201
    assert again.json() == {"imported": 0, "duplicates": 1000}
    assert _count(db, project) == 1000


def test_rows_without_external_id_dedupe_by_content(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    rows = [
        {"prompt": "Same?", "responses": ["x", "y"]},
        {"prompt": "Same?", "responses": ["x", "y"]},
        {"prompt": "Different", "responses": ["x", "y"]},
    ]
    r = client.post(f"/api/v1/projects/{project.id}/tasks", headers=auth, json=rows)
    assert r.status_code == 201
    assert r.json() == {"imported": 2, "duplicates": 1}


def test_error_list_is_capped_at_fifty_and_counts_the_rest(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    rows = [{"prompt": ""} for _ in range(70)] + [{"prompt": "fine", "responses": ["a"]}]
    r = client.post(f"/api/v1/projects/{project.id}/tasks", headers=auth, json=rows)
    assert r.status_code == 422
    assert len(r.json()["errors"]) == 50
    assert r.json()["error_count"] == 70
    assert r.json()["errors"][0]["line"] == 1
    assert _count(db, project) == 0


def test_gzip_csv_and_json_list_files(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    csv_text = 'external_id,prompt,response_a,response_b\nc1,"Multi\nline prompt",yes,no\nc2,Second,one,two\n'
    r = client.post(
        f"/api/v1/projects/{project.id}/imports",
        headers=auth,
        files={"file": ("rows.csv.gz", gzip.compress(csv_text.encode()))},
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2
    listing = [
        {"prompt": "P", "chosen": "good", "rejected": "bad"},
        {"chosen": "\n\nHuman: hi\n\nAssistant: hello!", "rejected": "\n\nHuman: hi\n\nAssistant: go away"},
    ]
    r = client.post(
        f"/api/v1/projects/{project.id}/imports",
        headers=auth,
        files={"file": ("rows.json", json.dumps(listing).encode())},
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2
    tasks = client.get(f"/api/v1/projects/{project.id}/tasks", headers=auth).json()["items"]
    assert tasks[0]["prompt"] == "Multi\nline prompt"
    hh = tasks[3]
    assert hh["prompt"] == [{"role": "user", "content": "hi"}]
    assert sorted(r["text"] for r in hh["responses"]) == ["go away", "hello!"]
    chosen_id = hh["meta"]["source_preference"]["chosen"]
    assert next(r["text"] for r in hh["responses"] if r["id"] == chosen_id) == "hello!"


def test_import_needs_the_lead_role_and_hides_other_projects(client: TestClient, db: Session) -> None:
    project, _ = _setup(db)
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, factories.Role.annotator)
    stranger = factories.make_user(db)
    for user, expected in ((annotator, 403), (stranger, 404)):
        r = client.post(
            f"/api/v1/projects/{project.id}/imports",
            headers={"Authorization": f"Bearer {factories.make_token(db, user)}"},
            files={"file": ("t.jsonl", _jsonl(2))},
        )
        assert r.status_code == expected
    assert _count(db, project) == 0


def test_empty_file_and_bad_mapping_are_clear_errors(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", b"")})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = client.post(
        f"/api/v1/projects/{project.id}/imports?map=nonsense",
        headers=auth,
        files={"file": ("t.jsonl", _jsonl(1))},
    )
    assert r.status_code == 422 and "map" in r.json()["detail"]


def test_label_studio_export_with_a_mapping(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    export = [
        {
            "id": 7,
            "data": {"question": "Q?", "answer1": "first", "answer2": "second", "note": "n"},
            "annotations": [],
        }
    ]
    r = client.post(
        f"/api/v1/projects/{project.id}/imports?map=prompt:question,responses:answer1|answer2",
        headers=auth,
        files={"file": ("export.json", io.BytesIO(json.dumps(export).encode()))},
    )
    assert r.status_code == 201, r.text
    task = client.get(f"/api/v1/projects/{project.id}/tasks", headers=auth).json()["items"][0]
    assert task["prompt"] == "Q?"
    assert [x["text"] for x in task["responses"]] == ["first", "second"]


def test_one_file_per_upload(client: TestClient, db: Session) -> None:
    project, auth = _setup(db)
    r = client.post(
        f"/api/v1/projects/{project.id}/imports",
        headers=auth,
        files=[("file", ("a.jsonl", _jsonl(2))), ("file", ("b.jsonl", _jsonl(2, 5)))],
    )
    assert r.status_code == 422 and "one file" in r.json()["detail"]
    assert _count(db, project) == 0
