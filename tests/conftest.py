"""Test set-up: one backend per run (PREFLAB_TEST_DB=sqlite|postgresql), migrations once per session,
a rolled-back transaction per test. Tests that need a second process (Celery worker, `preflab serve`)
use the `committed` fixture, which truncates afterwards."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKEND = os.environ.get("PREFLAB_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("PREFLAB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("PREFLAB_TEST_PG_DB", "preflab_test")
REDIS_URL = os.environ.get("PREFLAB_TEST_REDIS", "redis://127.0.0.1:6379/15")

_DATA_DIR = Path(tempfile.mkdtemp(prefix="preflab-test-"))
os.environ["PREFLAB_DATA_DIR"] = str(_DATA_DIR)
os.environ["PREFLAB_BROKER_URL"] = REDIS_URL
os.environ["PREFLAB_SECRET_KEY"] = "test-secret-key"
os.environ["PREFLAB_IMPORT_INLINE_MAX_BYTES"] = str(256 * 1024)  # small, so tests reach the job path cheaply
if BACKEND == "postgresql":
    os.environ["PREFLAB_DATABASE_URL"] = (
        PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{PG_DB}"
    )
elif BACKEND == "sqlite":
    os.environ["PREFLAB_DATABASE_URL"] = f"sqlite:///{_DATA_DIR / 'test.db'}"
else:
    raise RuntimeError(f"PREFLAB_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.core.db import get_engine  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Base  # noqa: E402
from app.web.deps import get_db  # noqa: E402
from tests import factories  # noqa: E402

# Worker fixtures (celery_worker, job_waiter) for every domain, and the markers that follow from where a
# test lives (tests/markers.py).
pytest_plugins = ["tests.worker", "tests.markers"]


def _recreate_pg_database() -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DB}"')
    except psycopg.OperationalError as exc:  # fail loudly: a suite that skips proves nothing
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}") from exc


def _check_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).flushdb()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis is not reachable at {REDIS_URL}: {exc}") from exc


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[None]:
    if BACKEND == "postgresql":
        _recreate_pg_database()
    _check_redis()
    from app.cli import run_migrations

    run_migrations()
    yield
    get_engine().dispose()
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture
def db() -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    connection = get_engine().connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def app(db: Session):  # type: ignore[no-untyped-def]
    application = create_app()

    def _test_db() -> Iterator[Session]:
        # Each request is a savepoint: a failed request undoes its own writes, not the test's set-up.
        nested = db.begin_nested()
        try:
            yield db
            if nested.is_active:
                nested.commit()
        except BaseException:
            if nested.is_active:
                nested.rollback()
            raise

    application.dependency_overrides[get_db] = _test_db
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def committed() -> Iterator[None]:
    """For tests whose data must be visible to another process: real commits, tables emptied afterwards."""
    yield
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with get_engine().begin() as conn:
        if BACKEND == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient) -> str:
    page = client.get("/login")
    match = CSRF_RE.search(page.text)
    assert match, "the login page carries a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, user_id: int) -> str:
    """A signed session cookie as the login form would set (no Argon2 round): for tests of many
    callers. Returns the session's CSRF token."""
    import json
    from base64 import b64encode

    from itsdangerous import TimestampSigner

    csrf = f"csrf-{user_id}"
    payload = b64encode(json.dumps({"uid": user_id, "csrf": csrf}).encode())
    signed = TimestampSigner(os.environ["PREFLAB_SECRET_KEY"]).sign(payload).decode()
    client.cookies.set("preflab_session", signed)
    return csrf


def login(client: TestClient, email: str, password: str = factories.PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token for later form posts."""
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(client), "next": "/"}
    )
    assert response.status_code == 303, response.text
    account = client.get("/account")
    match = CSRF_RE.search(account.text)
    assert match
    return match.group(1)
