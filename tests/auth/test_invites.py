"""Invite links (issue 16, Accounts): an admin creates one (optionally bound to an e-mail, admin or not,
optionally joining a project with a role), the invitee opens /invite/<token>, chooses a name and a
password and is signed in; the link works once and expires; admins list and revoke pending ones."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import invites
from app.models import AuditEvent, Invite, Member, User, utcnow
from tests import factories
from tests.conftest import CSRF_RE, csrf_of, sign_in

PASSWORD = "the invitee's passphrase"
HX = {"HX-Request": "true"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_of(url: str) -> str:
    assert "/invite/" in url
    return url.rsplit("/", 1)[1]


def _accept(client: TestClient, token: str, **fields: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/invite/{token}")
    match = CSRF_RE.search(page.text)
    data = {"name": "Ines", "password": PASSWORD, "repeat_password": PASSWORD, **fields}
    data["csrf_token"] = match.group(1) if match else csrf_of(client)
    return client.post(f"/invite/{token}", data=data)


def test_api_invite_bound_to_an_email_joins_a_project_and_signs_in(app: FastAPI, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=admin)
    headers = _bearer(factories.make_token(db, admin))
    with TestClient(app, follow_redirects=False) as api, TestClient(app, follow_redirects=False) as invitee:
        body = {"email": "Ines@Example.com", "project_id": project.id, "project_role": "reviewer"}
        r = api.post("/api/v1/invites", json=body, headers=headers)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["email"] == "ines@example.com" and created["project_role"] == "reviewer"
        token = _token_of(created["url"])
        assert db.scalar(select(Invite.token_hash).where(Invite.id == created["id"])) == (
            hashlib.sha256(token.encode()).hexdigest()  # only a hash is stored
        )
        listed = api.get("/api/v1/invites", headers=headers).json()
        assert [i["id"] for i in listed] == [created["id"]] and "url" not in listed[0]

        page = invitee.get(f"/invite/{token}")
        assert page.status_code == 200 and "ines@example.com" in page.text and project.name in page.text
        r = _accept(invitee, token, email="someone-else@example.com")  # a bound e-mail cannot be changed
        assert r.status_code == 303 and r.headers["location"] == f"/projects/{project.id}"
        me = invitee.get("/account")
        assert me.status_code == 200 and "ines@example.com" in me.text  # signed in at once
        assert invitee.get(f"/projects/{project.id}").status_code == 200

        assert api.get("/api/v1/invites", headers=headers).json() == []
        again = TestClient(app, follow_redirects=False)
        assert again.get(f"/invite/{token}").status_code == 410
        r = _accept(again, token, name="Mallory")
        assert r.status_code == 410 and "not valid any more" in r.text
    user = db.scalars(select(User).where(User.email == "ines@example.com")).one()
    assert not user.is_admin and user.name == "Ines"
    assert db.get_one(Member, (project.id, user.id)).role == "reviewer"
    assert db.scalar(select(User.id).where(User.email == "someone-else@example.com")) is None
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "invite")).all()
    assert actions == ["invite.create", "invite.accept"]


def test_an_unbound_invite_asks_for_an_email_and_keeps_what_was_typed(
    client: TestClient, db: Session
) -> None:
    admin = factories.make_user(db, is_admin=True)
    taken = factories.make_user(db)
    _, url = invites.create_invite(db, data=invites.InviteRequest(is_admin=True), actor=admin)
    token = _token_of(url)
    r = _accept(client, token, email="not an address", name="Kept Name")
    assert r.status_code == 422 and "is not an e-mail address" in r.text and 'value="Kept Name"' in r.text
    r = _accept(client, token, email=taken.email)
    assert r.status_code == 409 and "already exists" in r.text
    r = _accept(client, token, email="new.admin@example.com", repeat_password="not the same one")
    assert r.status_code == 422 and "differ" in r.text
    r = _accept(client, token, email="new.admin@example.com")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert db.scalars(select(User).where(User.email == "new.admin@example.com")).one().is_admin


def test_expired_and_revoked_invites_answer_a_clear_page(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    expired, expired_url = invites.create_invite(db, data=invites.InviteRequest(), actor=admin)
    assert timedelta(days=6, hours=23) < expired.expires_at - utcnow() <= timedelta(days=7)
    expired.expires_at = utcnow() - timedelta(seconds=1)
    revoked, revoked_url = invites.create_invite(db, data=invites.InviteRequest(), actor=admin)
    db.flush()
    headers = _bearer(factories.make_token(db, admin))
    assert client.delete(f"/api/v1/invites/{revoked.id}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/invites/{revoked.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/invites", headers=headers).json() == []
    for url in (expired_url, revoked_url, "http://x/invite/made-up"):
        page = client.get(f"/invite/{_token_of(url)}")
        assert page.status_code == 410 and "This link does not work any more" in page.text
        r = _accept(client, _token_of(url), email="late@example.com")
        assert r.status_code == 410
    assert db.scalar(select(User.id).where(User.email == "late@example.com")) is None


def test_invite_pages_create_list_and_revoke(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=admin)
    csrf = sign_in(client, admin.id)
    r = client.post(
        "/admin/invites",
        data={"csrf_token": csrf, "email": "bad@", "project_id": str(project.id), "project_role": "lead"},
        headers=HX,
    )
    assert r.status_code == 422 and 'role="alert"' in r.text and 'value="bad@"' in r.text
    data = {
        "csrf_token": csrf,
        "email": "lee@example.com",
        "project_id": str(project.id),
        "project_role": "lead",
    }
    r = client.post("/admin/invites", data=data, headers=HX)
    assert r.status_code == 200 and 'id="invites"' in r.text and "/invite/" in r.text
    invite = db.scalars(select(Invite).where(Invite.email == "lee@example.com")).one()
    assert invite.project_id == project.id and invite.project_role == "lead"
    page = client.get("/admin/users")
    assert "lee@example.com" in page.text and f"/admin/invites/{invite.id}/revoke" in page.text
    assert "/invite/" not in page.text  # the link is shown once, when it is made
    r = client.post(f"/admin/invites/{invite.id}/revoke", data={"csrf_token": csrf}, headers=HX)
    assert r.status_code == 200 and "Invite revoked" in r.text and "lee@example.com" not in r.text
    r = client.post(f"/admin/invites/{invite.id}/revoke", data={"csrf_token": csrf}, headers=HX)
    assert r.status_code == 404 and "no pending invite" in r.text
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(invite.id))).all()
    assert "invite.create" in actions and "invite.revoke" in actions


def test_an_invite_for_an_existing_email_is_refused(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    user = factories.make_user(db, email="taken@example.com")
    r = client.post(
        "/api/v1/invites", json={"email": user.email}, headers=_bearer(factories.make_token(db, admin))
    )
    assert r.status_code == 409


def test_non_admins_may_not_list_or_create_invites(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    headers = _bearer(factories.make_token(db, user))
    assert client.get("/api/v1/invites", headers=headers).status_code == 403
    assert client.post("/api/v1/invites", json={}, headers=headers).status_code == 403
    client.headers.clear()
    csrf = sign_in(client, user.id)
    assert client.post("/admin/invites", data={"csrf_token": csrf}).status_code == 403
