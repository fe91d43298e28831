"""Issue 18, finding 8: the login limit. Guesses are counted per account, atomically (parallel guesses
cannot all be checked), never lock out a known device or the other users behind the same address, and a
forwarded address is believed only from a configured proxy. The parallel cases run against `preflab
serve` itself, so uvicorn is started as Preflab starts it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth import service, throttle
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import InvalidInput, TooManyRequests
from app.core.security import DEVICE_COOKIE
from app.models import LoginThrottle, utcnow
from tests import factories
from tests.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def _serving(**env: str) -> Iterator[str]:
    """`preflab serve` (no worker, no demo) on a free port, with these PREFLAB_* settings."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = Path(os.environ["PREFLAB_DATA_DIR"]) / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--no-seed", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120  # imports are slow on a loaded box
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("preflab serve did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(20)


class _Browser:
    """One browser: its own cookies (session, device cookie), a fresh CSRF token for each login."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=120)

    def csrf(self) -> str:
        match = CSRF_RE.search(self.http.get("/login").text)
        assert match
        return match.group(1)

    def login(self, email: str, password: str, csrf: str | None = None, **headers: str) -> int:
        data = {"email": email, "password": password, "csrf_token": csrf or self.csrf(), "next": "/"}
        return self.http.post("/login", data=data, headers=headers).status_code


def _throttle_keys() -> dict[str, int]:
    with session_scope() as session:
        return {row.key: row.failures for row in session.scalars(select(LoginThrottle))}


def _users(*admins: bool) -> list[str]:
    with session_scope() as session:
        return [factories.make_user(session, is_admin=a).email for a in admins]


def test_parallel_wrong_passwords_check_at_most_the_limit_and_lock_out_no_one_else(committed: None) -> None:
    admin, victim, bystander = _users(True, False, False)
    limit = get_settings().login_max_failures
    # Room for every guess at once: past PREFLAB_MAX_INFLIGHT, or a pool checkout waiting past its timeout
    # (SQLite's guesses queue for the write lock, each holding a connection), the server sheds load with
    # 503s, which is another test's subject (tests/web/test_overload.py); here every guess must reach the
    # login.
    with _serving(
        PREFLAB_MAX_INFLIGHT="64", PREFLAB_DB_MAX_OVERFLOW="60", PREFLAB_DB_POOL_TIMEOUT_S="60"
    ) as base:
        admin_desk, victim_laptop = _Browser(base), _Browser(base)
        assert admin_desk.login(admin, factories.PASSWORD) == 303  # both have signed in here before
        assert victim_laptop.login(victim, factories.PASSWORD) == 303

        guessers = [_Browser(base) for _ in range(25)]
        tokens = [g.csrf() for g in guessers]
        start, codes = threading.Barrier(len(guessers)), [0] * len(guessers)

        def guess(i: int) -> None:
            start.wait()
            codes[i] = guessers[i].login(victim, f"wrong guess {i}", tokens[i])

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(guessers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        checked = codes.count(401)
        assert 1 <= checked <= limit and checked + codes.count(429) == len(guessers), codes
        assert _throttle_keys()[throttle.account_key(victim)] == limit

        # The account is locked for browsers it has not signed in from, the right password included...
        assert _Browser(base).login(victim, factories.PASSWORD) == 429
        # ...but not for its owner's laptop, nor for anyone else at the same address.
        assert victim_laptop.login(victim, factories.PASSWORD) == 303
        assert admin_desk.login(admin, factories.PASSWORD) == 303
        assert _Browser(base).login(bystander, factories.PASSWORD) == 303


def test_forwarded_for_is_ignored_from_untrusted_peers_and_believed_from_trusted_proxies(
    committed: None,
) -> None:
    (user,) = _users(False)
    per_address = {"PREFLAB_LOGIN_MAX_FAILURES_PER_ADDRESS": "3"}
    with _serving(**per_address) as base:  # no trusted proxies: loopback's X-Forwarded-For is a lie too
        for i in range(3):  # each guess "from" a fresh address
            assert (
                _Browser(base).login(
                    f"nobody{i}@example.test", "guess", **{"X-Forwarded-For": f"203.0.113.{i}"}
                )
                == 401
            )
        assert set(_throttle_keys()) >= {"address:127.0.0.1"}
        assert not [k for k in _throttle_keys() if k.startswith("address:203.")]
        fresh = _Browser(base).login(user, factories.PASSWORD, **{"X-Forwarded-For": "198.51.100.1"})
        assert fresh == 429  # the peer is locked out as an unknown device, whatever it forwards

    with session_scope() as session:
        session.execute(delete(LoginThrottle))
    with _serving(PREFLAB_TRUSTED_PROXIES="127.0.0.1/32, ::1", **per_address) as base:
        for i in range(3):
            assert (
                _Browser(base).login(f"nobody{i}@example.test", "guess", **{"X-Forwarded-For": "203.0.113.9"})
                == 401
            )
        assert (
            _throttle_keys().get("address:203.0.113.9") == 3 and "address:127.0.0.1" not in _throttle_keys()
        )
        assert _Browser(base).login(user, factories.PASSWORD, **{"X-Forwarded-For": "203.0.113.9"}) == 429
        # The proxy itself is not locked out: another client behind it gets in.
        assert _Browser(base).login(user, factories.PASSWORD, **{"X-Forwarded-For": "203.0.113.10"}) == 303


def test_lockouts_double_with_each_further_failure_and_end(db: Session) -> None:
    settings, key = get_settings(), throttle.account_key("someone@example.test")
    now = utcnow()
    for _ in range(settings.login_max_failures):
        throttle.reserve(db, key, limit=settings.login_max_failures, now=now, what="for this account")
    row = db.get(LoginThrottle, key)
    assert row is not None and row.locked_until == now + timedelta(seconds=settings.login_lockout_s)
    with pytest.raises(TooManyRequests, match="try again in 60 seconds"):
        throttle.reserve(db, key, limit=settings.login_max_failures, now=now, what="for this account")
    later = row.locked_until + timedelta(
        seconds=1
    )  # the lock ended; the next failure locks for twice as long
    throttle.reserve(db, key, limit=settings.login_max_failures, now=later, what="for this account")
    assert row.locked_until == later + timedelta(seconds=2 * settings.login_lockout_s)
    quiet = row.locked_until + timedelta(seconds=settings.login_window_s + 1)  # a quiet window: forgotten
    throttle.reserve(db, key, limit=settings.login_max_failures, now=quiet, what="for this account")
    assert row.failures == 1 and row.locked_until is None


def test_a_forged_or_another_users_device_cookie_counts_for_nothing(client: TestClient, db: Session) -> None:
    owner, other = factories.make_user(db), factories.make_user(db)
    r = client.post(
        "/login", data={"email": other.email, "password": factories.PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert r.status_code == 303 and DEVICE_COOKIE in r.cookies
    for _ in range(get_settings().login_max_failures):
        r = client.post(
            "/login", data={"email": owner.email, "password": "wrong", "csrf_token": csrf_of(client)}
        )
        assert r.status_code == 401
    # This browser knows `other`, not `owner`: the owner's locked account stays locked here.
    r = client.post(
        "/login", data={"email": owner.email, "password": factories.PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert r.status_code == 429 and "Retry-After" in r.headers and "try again in" in r.text
    client.cookies.set(DEVICE_COOKIE, "forged.cookie.value")
    r = client.post(
        "/login", data={"email": owner.email, "password": factories.PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert r.status_code == 429


def test_wrong_current_passwords_are_limited_but_not_by_guesses_at_the_login(db: Session) -> None:
    user = factories.make_user(db)
    limit = get_settings().login_max_failures
    for _ in range(limit):  # someone else locks the account at the login form
        assert service.authenticate(db, email=user.email, password="wrong", client="192.0.2.1") is None
    # The signed-in owner can still change the password (a session is a known device)...
    service.change_password(db, user=user, current=factories.PASSWORD, new="a new password")
    # ...and guesses at the current password have a limit of their own.
    for _ in range(limit):
        with pytest.raises(InvalidInput, match="current password is wrong"):
            service.change_password(db, user=user, current="wrong", new="another password")
    with pytest.raises(TooManyRequests):
        service.change_password(db, user=user, current="a new password", new="another password")
