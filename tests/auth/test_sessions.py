"""A signed session cookie ends when its user logs out or changes the password: each cookie carries the
user's session generation from when it was issued, and logging out bumps it (issue 18, finding 7)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests import factories
from tests.conftest import login

NEW_PASSWORD = "a brand new passphrase"


def _browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def _signed_out(client: TestClient) -> bool:
    r = client.get("/account")
    return r.status_code == 303 and r.headers["location"] == "/login?next=/account"


def test_logout_ends_the_session_everywhere_and_no_one_elses(app: FastAPI, db: Session) -> None:
    alice, bob = factories.make_user(db), factories.make_user(db)
    with _browser(app) as laptop, _browser(app) as phone, _browser(app) as other:
        csrf = login(laptop, alice.email)
        login(phone, alice.email)
        login(other, bob.email)
        kept = dict(laptop.cookies)  # what a thief (or the browser's disk) still holds after logout
        r = laptop.post("/logout", data={"csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        with _browser(app) as replay:
            replay.cookies.update(kept)
            assert _signed_out(replay)  # the old cookie is refused: the page sends it to /login
            assert replay.get("/api/v1/me").status_code == 401  # and the API refuses it too
            assert replay.get("/projects/new").status_code == 303
        assert _signed_out(phone)  # logging out ends every session of that user ("log out everywhere")
        assert other.get("/account").status_code == 200  # another user's session is untouched
        login(laptop, alice.email)  # logging in again works
        assert laptop.get("/account").status_code == 200


def test_a_password_change_ends_other_sessions_and_keeps_this_one(app: FastAPI, db: Session) -> None:
    user = factories.make_user(db)
    with _browser(app) as here, _browser(app) as there:
        csrf = login(here, user.email)
        login(there, user.email)
        before = db.get_one(User, user.id).session_generation
        r = here.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": factories.PASSWORD,
                "new_password": NEW_PASSWORD,
                "repeat_password": NEW_PASSWORD,
            },
        )
        assert r.status_code == 303
        db.expire_all()
        assert db.get_one(User, user.id).session_generation == before + 1
        assert here.get("/account").status_code == 200
        assert _signed_out(there)


def test_logging_out_with_an_ended_session_ends_nothing_more(app: FastAPI, db: Session) -> None:
    user = factories.make_user(db)
    with _browser(app) as old, _browser(app) as new:
        csrf = login(old, user.email)
        kept = dict(old.cookies)
        old.post("/logout", data={"csrf_token": csrf})
        login(new, user.email)
        old.cookies.clear()
        old.cookies.update(kept)
        old.post("/logout", data={"csrf_token": csrf})  # a stolen, ended cookie cannot sign others out
        assert new.get("/account").status_code == 200
