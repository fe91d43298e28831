"""The instance setting that lets non-admins create projects (issue 16, Accounts): off by default (only
admins create projects), admin-editable through the API and the admin page; when on, any signed-in user
creates a project and leads it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Member
from tests import factories
from tests.conftest import sign_in

HX = {"HX-Request": "true"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_off_by_default_only_admins_create_projects(client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    admin_h, user_h = _bearer(factories.make_token(db, admin)), _bearer(factories.make_token(db, user))
    assert client.get("/api/v1/instance-settings", headers=admin_h).json() == {
        "non_admins_create_projects": False
    }
    r = client.post("/api/v1/projects", json={"name": "Mine", "kind": "rating"}, headers=user_h)
    assert r.status_code == 403
    csrf = sign_in(client, user.id)
    assert client.get("/projects/new").status_code == 403
    assert (
        client.post("/projects/new", data={"csrf_token": csrf, "name": "x", "kind": "sft"}).status_code == 403
    )
    assert "New project" not in client.get("/").text


def test_api_turning_it_on_lets_any_user_create_and_lead_a_project(client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    admin_h, user_h = _bearer(factories.make_token(db, admin)), _bearer(factories.make_token(db, user))
    assert client.patch("/api/v1/instance-settings", json={"x": 1}, headers=user_h).status_code == 403
    assert client.get("/api/v1/instance-settings", headers=user_h).status_code == 403
    r = client.patch("/api/v1/instance-settings", json={"non_admins_create_projects": True}, headers=admin_h)
    assert r.status_code == 200 and r.json() == {"non_admins_create_projects": True}
    r = client.post("/api/v1/projects", json={"name": "Mine", "kind": "rating"}, headers=user_h)
    assert r.status_code == 201, r.text
    assert db.get_one(Member, (r.json()["id"], user.id)).role == "lead"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "instance_settings.update")).one()
    assert event.user_id == admin.id
    assert event.details["changes"] == {"non_admins_create_projects": {"from": False, "to": True}}

    r = client.patch("/api/v1/instance-settings", json={"non_admins_create_projects": False}, headers=admin_h)
    assert r.json() == {"non_admins_create_projects": False}
    r = client.post("/api/v1/projects", json={"name": "Again", "kind": "rating"}, headers=user_h)
    assert r.status_code == 403


def test_page_turning_it_on_lets_any_user_create_a_project(client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    csrf = sign_in(client, admin.id)
    page = client.get("/admin/settings")
    assert page.status_code == 200 and 'name="non_admins_create_projects"' in page.text
    assert "checked" not in page.text.split('name="non_admins_create_projects"', 1)[1].split(">", 1)[0]
    r = client.post(
        "/admin/settings", data={"csrf_token": csrf, "non_admins_create_projects": "true"}, headers=HX
    )
    assert r.status_code == 200 and "Settings saved" in r.text
    assert "checked" in r.text.split('name="non_admins_create_projects"', 1)[1].split(">", 1)[0]

    csrf = sign_in(client, user.id)
    assert "New project" in client.get("/").text
    assert client.get("/projects/new").status_code == 200
    r = client.post("/projects/new", data={"csrf_token": csrf, "name": "By a user", "kind": "sft"})
    assert r.status_code == 303
    pid = int(r.headers["location"].split("/")[2])
    assert db.get_one(Member, (pid, user.id)).role == "lead"
    assert client.get(f"/projects/{pid}/settings").status_code == 200  # they lead it

    csrf = sign_in(client, admin.id)
    client.post("/admin/settings", data={"csrf_token": csrf}, headers=HX)  # the box unticked: off again
    sign_in(client, user.id)
    assert client.get("/projects/new").status_code == 403


def test_non_admins_may_not_see_or_change_the_settings_page(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    csrf = sign_in(client, user.id)
    assert client.get("/admin/settings").status_code == 403
    r = client.post("/admin/settings", data={"csrf_token": csrf, "non_admins_create_projects": "true"})
    assert r.status_code == 403
