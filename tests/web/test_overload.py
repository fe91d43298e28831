"""The web tier under overload (issue 18, finding 16): past PREFLAB_MAX_INFLIGHT a request is answered
503 with Retry-After at once; a request that cannot get a connection within the pool timeout is a 503,
not a hang; health checks answer while every thread and connection is taken; PostgreSQL connections of
a web process carry statement and idle-in-transaction timeouts; pools that cannot fit max_connections
refuse to start. Driven through a real uvicorn server on real threads and the real database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app.auth import audit
from app.core.config import get_settings
from app.core.db import check_pool_fits, get_engine, make_engine, session_scope, use_request_timeouts
from app.main import create_app
from app.models import Project
from app.web.deps import SessionDep
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
postgresql_only = pytest.mark.postgresql  # PostgreSQL's timeouts and max_connections; SQLite has neither


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set PREFLAB_* settings for one test; the cached settings and request timeouts come back after."""

    def apply(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"PREFLAB_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
    use_request_timeouts()


@pytest.fixture
def token(committed: None) -> str:
    with session_scope() as session:
        return factories.make_token(session, factories.make_user(session))


class LiveServer:
    """uvicorn on a free port in a thread of this process, so a test can add routes to the app."""

    def __init__(self, app: FastAPI) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _timed(client: httpx.Client, path: str, **kw: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path, **kw)
    return response, time.monotonic() - started


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_past_the_inflight_limit_requests_get_503_with_retry_after_and_health_checks_answer(
    settings_env: Callable[..., None], token: str
) -> None:
    settings_env(max_inflight=3)
    app = create_app()
    release = threading.Event()
    entered = []

    @app.get("/api/v1/test-slow")
    async def slow() -> dict[str, int]:
        entered.append(1)
        while not release.is_set():
            await asyncio.sleep(0.01)
        return {"slept": len(entered)}

    headers = {"Authorization": f"Bearer {token}"}
    with (
        LiveServer(app) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
        ThreadPoolExecutor(3) as pool,
    ):
        try:
            held = [pool.submit(client.get, "/api/v1/test-slow", headers=headers) for _ in range(3)]
            _wait_until(lambda: len(entered) == 3)

            refused, took = _timed(client, "/api/v1/me", headers=headers, timeout=3)
            assert refused.status_code == 503 and took < 1, (refused.status_code, took)
            assert int(refused.headers["Retry-After"]) >= 1
            assert "busy" in refused.json()["detail"]
            page, _ = _timed(client, "/", timeout=3)
            assert page.status_code == 503 and "Retry-After" in page.headers

            health, took = _timed(client, "/healthz", timeout=3)
            assert health.status_code == 200 and took < 1
            ready, took = _timed(client, "/readyz", timeout=5)
            assert ready.status_code == 200 and took < 4, ready.text
        finally:
            release.set()
        assert [f.result().status_code for f in held] == [200, 200, 200]
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # recovered at once


def test_health_checks_answer_while_every_connection_is_taken(settings_env: Callable[..., None]) -> None:
    # 40 admitted: 20 hold the pool's connections, 20 wait for one (then 503), 5 are shed at once. The
    # old code had 40 threads in all, so /healthz (a plain function) waited for one of them.
    settings_env(max_inflight=40)
    app = create_app()
    release = threading.Event()
    entered = []

    @app.get("/api/v1/test-stuck")
    def stuck() -> dict[str, int]:
        # Holds a worker thread and a connection in an open transaction (a deferred one on SQLite,
        # which takes no write lock, so that the others reach the pool).
        with get_engine().execution_options(sqlite_deferred=True).connect() as conn:
            conn.execute(text("SELECT 1"))
            entered.append(1)
            release.wait(30)
        return {"entered": len(entered)}

    limits = httpx.Limits(max_connections=100)
    with (
        LiveServer(app) as live,
        httpx.Client(base_url=live.url, timeout=30, limits=limits) as client,
        ThreadPoolExecutor(45) as pool,
    ):
        try:
            held: list[Future[httpx.Response]] = [
                pool.submit(client.get, "/api/v1/test-stuck") for _ in range(45)
            ]
            pool_size = get_settings().db_pool_size + get_settings().db_max_overflow
            _wait_until(lambda: len(entered) >= pool_size)
            time.sleep(0.3)  # the rest now wait for a connection or a thread
            health, took = _timed(client, "/healthz", timeout=3)
            assert health.status_code == 200 and took < 1, took
            ready, took = _timed(client, "/readyz", timeout=6)
            assert ready.status_code == 200 and took < 4, (ready.text, took)
        finally:
            release.set()
        codes = sorted(f.result().status_code for f in held)
        # Those shed, and those that found no connection within PREFLAB_DB_POOL_TIMEOUT_S, were told to
        # come back.
        assert set(codes) <= {200, 503} and codes.count(200) >= pool_size and 503 in codes, codes


def test_a_commit_waiting_for_a_lock_does_not_stop_the_process(committed: None) -> None:
    """A's transaction holds a lock; B's commit flushes an audit row that must wait for it. The commit ran
    on the event loop, so B's wait stopped the loop, and A could never reach its own commit."""
    with session_scope() as session:
        pid = factories.make_project(session, lead=factories.make_user(session)).id
    app = create_app()
    held = threading.Event()

    @app.post("/api/v1/test-hold")
    def hold(session: SessionDep) -> dict[str, int]:
        # The project's row lock on PostgreSQL; SQLite's write lock (BEGIN IMMEDIATE) on both.
        session.execute(select(Project.id).where(Project.id == pid).with_for_update())
        held.set()
        time.sleep(1.0)  # meanwhile B commits, and waits for this transaction
        return {"held": pid}

    @app.post("/api/v1/test-audit")
    def write(session: SessionDep) -> dict[str, int]:
        audit.record(session, "test.write", user_id=None, project_id=pid)  # flushed by the commit
        return {"wrote": pid}

    with (
        LiveServer(app) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        a = pool.submit(client.post, "/api/v1/test-hold")
        assert held.wait(5)
        b = pool.submit(client.post, "/api/v1/test-audit")
        time.sleep(0.3)  # B is in its commit, waiting for A's lock
        health, took = _timed(client, "/healthz", timeout=3)
        assert health.status_code == 200 and took < 0.5, took
        assert a.result(timeout=10).status_code == 200
        assert b.result(timeout=10).status_code == 200


def test_a_request_that_gets_no_connection_in_time_is_a_503_not_a_hang(
    settings_env: Callable[..., None],
) -> None:
    settings_env(db_pool_timeout_s=0.5)
    engine = make_engine(get_settings().resolved_database_url, pool_size=1, max_overflow=0)
    assert engine.pool.timeout() == 0.5  # type: ignore[attr-defined]
    app = create_app()

    @app.get("/api/v1/test-connection")
    def needs_connection() -> dict[str, int]:
        with engine.connect() as conn:
            return {"one": conn.execute(text("SELECT 1")).scalar_one()}

    try:
        with TestClient(app, raise_server_exceptions=False) as client, engine.connect():
            started = time.monotonic()
            r = client.get("/api/v1/test-connection")
            took = time.monotonic() - started
            assert r.status_code == 503 and took < 5, (r.status_code, took)  # the old pool waited 30 s
            assert r.headers["Retry-After"] == "1" and "database" in r.json()["detail"]
        with TestClient(app) as client:  # the connection is back: the same request answers
            assert client.get("/api/v1/test-connection").json() == {"one": 1}
    finally:
        engine.dispose()


def test_the_pool_is_sized_from_the_settings(settings_env: Callable[..., None]) -> None:
    settings_env(db_pool_size=3, db_max_overflow=2, db_pool_timeout_s=1.5)
    engine = make_engine(get_settings().resolved_database_url)
    try:
        pool: Any = engine.pool
        assert (pool.size(), pool._max_overflow, pool.timeout()) == (3, 2, 1.5)
        assert get_settings().resolved_max_inflight == 5  # shedding starts where the pool runs dry
    finally:
        engine.dispose()


@postgresql_only
def test_a_web_process_connections_carry_statement_and_idle_in_transaction_timeouts(
    settings_env: Callable[..., None],
) -> None:
    create_app()
    with get_engine().connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "1min"

    settings_env(db_statement_timeout_s=0.3, db_idle_in_transaction_timeout_s=0.5)
    app = create_app()

    @app.get("/api/v1/test-sleep")
    def sleep() -> dict[str, str]:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT pg_sleep(10)"))
        return {"slept": "yes"}

    with TestClient(app, raise_server_exceptions=False) as client:
        started = time.monotonic()
        r = client.get("/api/v1/test-sleep")
        assert r.status_code == 503 and time.monotonic() - started < 5, r.text

    # A transaction left idle (a request waiting on something else with its locks held) is ended.
    conn = get_engine().connect()
    try:
        conn.execute(text("SELECT 1"))
        time.sleep(1.5)
        with pytest.raises(Exception, match="idle"):
            conn.execute(text("SELECT 1"))
    finally:
        conn.invalidate()
        conn.close()


@postgresql_only
def test_pools_that_do_not_fit_max_connections_refuse_to_start(
    settings_env: Callable[..., None], tmp_path: Path
) -> None:
    assert check_pool_fits(1) is None
    problem = check_pool_fits(50)
    assert problem and "max_connections" in problem and "PREFLAB_DB_POOL_SIZE" in problem, problem

    settings_env(web_processes=50)
    with pytest.raises(RuntimeError, match="do not fit"), TestClient(create_app()):
        pass

    env = {k: v for k, v in os.environ.items() if k != "PREFLAB_WEB_PROCESSES"}
    env["PREFLAB_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "50", "--no-worker", "--no-seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "50 web process(es)" in done.stderr and "max_connections" in done.stderr, done.stderr
