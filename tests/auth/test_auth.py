from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.models import ApiToken, User
from tests import factories
from tests.conftest import csrf_of, login


def test_tokens_are_stored_hashed_shown_once_and_revocable(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    first = {"Authorization": f"Bearer {factories.make_token(db, user)}"}
    r = client.post("/api/v1/tokens", headers=first, json={"name": "script"})
    assert r.status_code == 201
    raw, token_id = r.json()["token"], r.json()["id"]
    stored = db.get(ApiToken, token_id)
    assert (
        stored is not None and raw not in (stored.token_hash, stored.prefix) and stored.last_used_at is None
    )
    second = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=second).json()["email"] == user.email
    # last_used_at is written in a transaction of its own, outside this test's: tests/auth/test_token_use.py
    listed = client.get("/api/v1/tokens", headers=first).json()
    assert all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=first).status_code == 204
    assert client.get("/api/v1/me", headers=second).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer pfl_made_up"}).status_code == 401


def test_admins_create_users_that_can_log_in(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    auth = {"Authorization": f"Bearer {factories.make_token(db, admin)}"}
    r = client.post(
        "/api/v1/users",
        headers=auth,
        json={"email": "Ann@Example.com", "name": "Ann", "password": "a good password"},
    )
    assert r.status_code == 201 and r.json()["email"] == "ann@example.com"
    dup = client.post(
        "/api/v1/users", headers=auth, json={"email": "ann@example.com", "password": "another one"}
    )
    assert dup.status_code == 409
    stored = db.scalar(select(User).where(User.email == "ann@example.com"))
    assert stored is not None and stored.password_hash.startswith("$argon2")
    login(client, "ann@example.com", "a good password")
    assert client.get("/").status_code == 200


def test_wrong_password_and_rate_limit(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    limit = get_settings().login_max_failures
    for _ in range(limit):
        r = client.post(
            "/login", data={"email": user.email, "password": "wrong", "csrf_token": csrf_of(client)}
        )
        assert r.status_code == 401 and "Wrong e-mail or password" in r.text
    blocked = client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert blocked.status_code == 429  # even the right password waits out the window


def test_forms_without_the_csrf_token_are_refused(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    login(client, admin.email)
    r = client.post("/account/tokens", data={"name": "sneaky"})
    assert r.status_code == 403
    r = client.post("/account/tokens", data={"name": "sneaky", "csrf_token": "forged"})
    assert r.status_code == 403
    assert db.scalar(select(ApiToken).where(ApiToken.name == "sneaky")) is None


def test_login_redirects_back_but_never_off_site(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    r = client.get("/projects/1/settings")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/projects/1/settings"
    for target, expected in (
        ("/account", "/account"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
    ):
        r = client.post(
            "/login",
            data={
                "email": user.email,
                "password": factories.PASSWORD,
                "next": target,
                "csrf_token": csrf_of(client),
            },
        )
        assert r.status_code == 303 and r.headers["location"] == expected
        client.post(
            "/logout",
            data={"csrf_token": re.search(r'value="([^"]+)"', client.get("/account").text).group(1)},
        )  # type: ignore[union-attr]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readiness_names_the_broker_when_it_is_down(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.core import queue

    queue.celery_client.cache_clear()
    monkeypatch.setenv("PREFLAB_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["failing"] == ["broker: OperationalError"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        queue.celery_client.cache_clear()
