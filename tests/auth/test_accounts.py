"""Admins deactivate and reactivate users (every session and API token of a deactivated user stops at
once; not oneself, not the last active admin) and hand over single-use, expiring password-reset links
(issue 16, Accounts). Through the API and through the admin pages."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import accounts
from app.core.errors import Conflict
from app.models import AuditEvent, PasswordReset, User, utcnow
from tests import factories
from tests.conftest import CSRF_RE, csrf_of, login, sign_in

NEW_PASSWORD = "a brand new passphrase"
HX = {"HX-Request": "true"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def _signed_out(client: TestClient) -> bool:
    r = client.get("/account")
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def _actions(db: Session, target: int) -> list[str]:
    stmt = select(AuditEvent.action).where(AuditEvent.target_id == str(target)).order_by(AuditEvent.id)
    return list(db.scalars(stmt))


def test_api_deactivate_stops_the_session_token_and_login_at_once(app: FastAPI, db: Session) -> None:
    admin, victim = factories.make_user(db, is_admin=True), factories.make_user(db)
    admin_token, victim_token = factories.make_token(db, admin), factories.make_token(db, victim)
    with _browser(app) as theirs, _browser(app) as api:
        login(theirs, victim.email)
        assert api.get("/api/v1/me", headers=_bearer(victim_token)).status_code == 200
        r = api.post(f"/api/v1/users/{victim.id}/deactivate", headers=_bearer(admin_token))
        assert r.status_code == 200 and r.json()["is_active"] is False
        assert api.get("/api/v1/me", headers=_bearer(victim_token)).status_code == 401
        assert _signed_out(theirs)
        form = {"email": victim.email, "password": factories.PASSWORD, "csrf_token": csrf_of(theirs)}
        assert theirs.post("/login", data=form).status_code == 401

        r = api.post(f"/api/v1/users/{victim.id}/reactivate", headers=_bearer(admin_token))
        assert r.status_code == 200 and r.json()["is_active"] is True
        assert api.get("/api/v1/me", headers=_bearer(victim_token)).status_code == 200  # tokens stay
        login(theirs, victim.email)
    assert _actions(db, victim.id)[-2:] == ["user.deactivate", "user.reactivate"]


def test_a_session_from_before_the_deactivation_stays_ended_after_reactivation(
    app: FastAPI, db: Session
) -> None:
    admin, victim = factories.make_user(db, is_admin=True), factories.make_user(db)
    with _browser(app) as theirs:
        login(theirs, victim.email)
        kept = dict(theirs.cookies)
        accounts.set_active(db, user=victim, active=False, actor=admin)
        accounts.set_active(db, user=victim, active=True, actor=admin)
        theirs.cookies.clear()
        theirs.cookies.update(kept)
        assert _signed_out(theirs)


def test_page_deactivate_and_reactivate(app: FastAPI, client: TestClient, db: Session) -> None:
    admin, victim = factories.make_user(db, is_admin=True), factories.make_user(db)
    csrf = sign_in(client, admin.id)
    with _browser(app) as theirs:
        login(theirs, victim.email)
        page = client.get("/admin/users")
        assert page.status_code == 200 and f"/admin/users/{victim.id}/deactivate" in page.text
        assert f"/admin/users/{admin.id}/deactivate" not in page.text  # no button against oneself
        r = client.post(f"/admin/users/{victim.id}/deactivate", data={"csrf_token": csrf}, headers=HX)
        assert r.status_code == 200 and "deactivated" in r.text and 'id="users"' in r.text
        assert f"/admin/users/{victim.id}/reactivate" in r.text
        assert _signed_out(theirs)
        r = client.post(f"/admin/users/{victim.id}/reactivate", data={"csrf_token": csrf}, headers=HX)
        assert r.status_code == 200 and f"{victim.email} reactivated" in r.text
    db.expire_all()
    assert db.get_one(User, victim.id).is_active


def test_an_admin_cannot_deactivate_themselves(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    r = client.post(f"/api/v1/users/{admin.id}/deactivate", headers=_bearer(factories.make_token(db, admin)))
    assert r.status_code == 409 and "your own account" in r.json()["detail"]
    client.headers.clear()
    csrf = sign_in(client, admin.id)
    r = client.post(f"/admin/users/{admin.id}/deactivate", data={"csrf_token": csrf}, headers=HX)
    assert r.status_code == 409 and "your own account" in r.text and 'role="alert"' in r.text
    db.expire_all()
    assert db.get_one(User, admin.id).is_active


def test_the_last_active_admin_cannot_be_deactivated(db: Session) -> None:
    acting, other = factories.make_user(db, is_admin=True), factories.make_user(db, is_admin=True)
    for uid in db.scalars(select(User.id).where(User.is_admin, User.id.not_in([acting.id, other.id]))):
        db.get_one(User, uid).is_active = False  # only these two admins are active
    acting.is_active = False  # deactivated by someone else a moment ago: `other` is the last active one
    db.flush()
    try:
        accounts.set_active(db, user=other, active=False, actor=acting)
    except Conflict as exc:
        assert "last active admin" in exc.message
    else:
        raise AssertionError("the last active admin was deactivated")
    acting.is_active = True
    db.flush()
    accounts.set_active(db, user=other, active=False, actor=acting)  # with another one left, it may
    assert not other.is_active


def test_non_admins_may_not_deactivate_reset_or_invite(client: TestClient, db: Session) -> None:
    user, victim = factories.make_user(db), factories.make_user(db)
    headers = _bearer(factories.make_token(db, user))
    for path in (f"/api/v1/users/{victim.id}/deactivate", f"/api/v1/users/{victim.id}/password-reset"):
        assert client.post(path, headers=headers).status_code == 403
    assert client.post("/api/v1/invites", json={}, headers=headers).status_code == 403
    client.headers.clear()
    csrf = sign_in(client, user.id)
    r = client.post(f"/admin/users/{victim.id}/deactivate", data={"csrf_token": csrf})
    assert r.status_code == 403
    db.expire_all()
    assert db.get_one(User, victim.id).is_active


def _token_of(url: str) -> str:
    assert "/reset/" in url or "/invite/" in url
    return url.rsplit("/", 1)[1]


def _set_password(client: TestClient, token: str, password: str, again: str | None = None):  # type: ignore[no-untyped-def]
    page = client.get(f"/reset/{token}")
    match = CSRF_RE.search(page.text)
    csrf = match.group(1) if match else csrf_of(client)
    data = {"password": password, "repeat_password": again or password, "csrf_token": csrf}
    return client.post(f"/reset/{token}", data=data)


def test_api_reset_link_sets_the_password_once_and_ends_other_sessions(app: FastAPI, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    with _browser(app) as api, _browser(app) as elsewhere, _browser(app) as holder:
        login(elsewhere, user.email)
        r = api.post(
            f"/api/v1/users/{user.id}/password-reset", headers=_bearer(factories.make_token(db, admin))
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"user_id", "url", "expires_at"}  # no password, set or seen, by the admin
        token = _token_of(body["url"])
        stored = db.scalars(select(PasswordReset.token_hash).where(PasswordReset.user_id == user.id)).all()
        assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # only a hash is stored

        page = holder.get(f"/reset/{token}")
        assert page.status_code == 200 and user.email in page.text
        r = _set_password(holder, token, NEW_PASSWORD, "something else entirely")
        assert r.status_code == 422 and "differ" in r.text  # in place, and the link still works
        r = _set_password(holder, token, NEW_PASSWORD)
        assert r.status_code == 303
        assert holder.get("/account").status_code == 200  # the holder is signed in
        assert _signed_out(elsewhere)  # every other session ended

        again = _set_password(holder, token, "yet another passphrase")
        assert again.status_code == 410 and "not valid any more" in again.text
        assert holder.get(f"/reset/{token}").status_code == 410
    with _browser(app) as fresh:
        form = {"email": user.email, "password": factories.PASSWORD, "csrf_token": csrf_of(fresh)}
        assert fresh.post("/login", data=form).status_code == 401
        login(fresh, user.email, NEW_PASSWORD)
    assert _actions(db, user.id)[-2:] == ["user.password_reset_link", "user.password_reset"]


def test_reset_links_expire_and_a_new_one_replaces_the_old(client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    first, expires_at = accounts.create_reset_link(db, user=user, actor=admin)
    assert timedelta(hours=23) < expires_at - utcnow() <= timedelta(hours=24)  # PREFLAB_RESET_LINK_HOURS
    second, _ = accounts.create_reset_link(db, user=user, actor=admin)
    assert client.get(f"/reset/{_token_of(first)}").status_code == 410  # the older one stopped
    assert client.get(f"/reset/{_token_of(second)}").status_code == 200
    reset = db.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)).one()
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    assert client.get(f"/reset/{_token_of(second)}").status_code == 410
    r = _set_password(client, _token_of(second), NEW_PASSWORD)
    assert r.status_code == 410
    db.expire_all()
    assert db.get_one(User, user.id).password_hash == user.password_hash


def test_page_reset_link_is_shown_once_and_works(app: FastAPI, client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    csrf, generation = sign_in(client, admin.id), user.session_generation
    r = client.post(f"/admin/users/{user.id}/password-reset", data={"csrf_token": csrf}, headers=HX)
    assert r.status_code == 200 and "Password-reset link for" in r.text
    url = r.text.split("/reset/", 1)[1].split("<", 1)[0]
    assert "/reset/" not in client.get("/admin/users").text  # shown once: the page does not show it again
    with _browser(app) as holder:
        assert _set_password(holder, url, NEW_PASSWORD).status_code == 303
    db.expire_all()
    assert db.get_one(User, user.id).session_generation == generation + 1


def test_no_reset_link_for_a_deactivated_user(client: TestClient, db: Session) -> None:
    admin, user = factories.make_user(db, is_admin=True), factories.make_user(db)
    url, _ = accounts.create_reset_link(db, user=user, actor=admin)
    accounts.set_active(db, user=user, active=False, actor=admin)
    assert client.get(f"/reset/{_token_of(url)}").status_code == 410  # a link made before does not work
    r = client.post(
        f"/api/v1/users/{user.id}/password-reset", headers=_bearer(factories.make_token(db, admin))
    )
    assert r.status_code == 409
