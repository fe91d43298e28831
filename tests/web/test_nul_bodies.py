"""A NUL character (\\u0000) anywhere in a JSON body is a 422 naming the field, on both back ends
(PostgreSQL refuses NUL in text and JSONB; SQLite would store it): never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def test_a_nul_in_a_json_body_is_a_422_naming_the_field(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead, name="Kept")
    [task] = factories.make_tasks(db, project, n=1)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}

    renamed = client.patch(f"/api/v1/projects/{project.id}", headers=auth, json={"name": "a\u0000b"})
    assert renamed.status_code == 422, renamed.text
    assert "name" in renamed.json()["detail"] and "NUL" in renamed.json()["detail"]
    assert renamed.json()["errors"][0]["loc"] == ["body", "name"]
    assert client.get(f"/api/v1/projects/{project.id}", headers=auth).json()["name"] == "Kept"

    flagged = client.post(
        f"/api/v1/tasks/{task.id}/flags", headers=auth, json={"reason": "other", "comment": "x\u0000"}
    )
    assert flagged.status_code == 422, flagged.text
    assert flagged.json()["errors"][0]["loc"] == ["body", "comment"]

    settings = client.patch(
        f"/api/v1/projects/{project.id}", headers=auth, json={"settings": {"k\u0000ey": 1}}
    )
    assert settings.status_code == 422, settings.text
    assert "settings" in settings.json()["detail"]


def test_a_literal_backslash_u0000_is_only_text(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    r = client.patch(f"/api/v1/projects/{project.id}", headers=auth, json={"name": "see \\u0000"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "see \\u0000"
