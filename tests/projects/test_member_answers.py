"""Adding someone by id tells a lead nothing about them the lead did not know: the answer to
PUT /members/{uid} carries no e-mail or name for a user who was not yet a member (admins see them);
changing an existing member's role answers as the members list does."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def _auth(db: Session, user: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}  # type: ignore[arg-type]


def test_adding_a_user_by_id_does_not_reveal_their_address(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    stranger = factories.make_user(db, email="stranger@example.test", name="Stranger Danger")
    r = client.put(
        f"/api/v1/projects/{project.id}/members/{stranger.id}",
        headers=_auth(db, lead),
        json={"role": "annotator"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": stranger.id, "email": None, "name": None, "role": "annotator"}
    assert "stranger@example.test" not in r.text and "Stranger" not in r.text


def test_an_existing_member_and_an_admin_caller_get_the_full_answer(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    member = factories.make_user(db, email="member@example.test")
    factories.add_member(db, project, member, factories.Role.annotator)
    r = client.put(
        f"/api/v1/projects/{project.id}/members/{member.id}",
        headers=_auth(db, lead),
        json={"role": "reviewer"},
    )
    assert r.status_code == 200 and r.json()["email"] == "member@example.test"
    listed = client.get(f"/api/v1/projects/{project.id}/members", headers=_auth(db, lead)).json()
    assert {m["email"] for m in listed} == {lead.email, "member@example.test"}

    admin = factories.make_user(db, is_admin=True)
    newcomer = factories.make_user(db, email="newcomer@example.test")
    r = client.put(
        f"/api/v1/projects/{project.id}/members/{newcomer.id}",
        headers=_auth(db, admin),
        json={"role": "annotator"},
    )
    assert r.status_code == 200 and r.json()["email"] == "newcomer@example.test"
