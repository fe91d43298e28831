"""Overload (issue 18, finding 16): C clients with no think time for S seconds against a real server on a
throwaway PostgreSQL database, each an annotator running the loop (next, submit) and retrying at once
whatever the answer. Prints requests, 2xx, 503, other answers, client timeouts, connection errors,
p50/p99 latency, the slowest /healthz while loaded, the most sessions PostgreSQL saw waiting on a lock
or idle in a transaction, and how long after the load stops /healthz and a normal request answer.
Target: 503s instead of stalling (no timeouts), and recovery within 10 s.

    .venv/bin/python bench/overload.py                          # 200 clients, 30 s, 2 web processes
    .venv/bin/python bench/overload.py --clients 50 --seconds 10 --workers 4
"""

# ruff: noqa: E402 - the imports wait for the path fix below
from __future__ import annotations

import sys

# bench/queue.py would shadow the standard library's queue module that psycopg and asyncio need: take the
# script's own folder off the import path before anything imports `queue`.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "preflab_bench_overload"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
REQUEST_TIMEOUT_S = 10.0


class Conn:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON requests (as bench/queue.py)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, port: int, token: str | None = None) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        return cls(reader, writer, f"Host: 127.0.0.1:{port}\r\n{auth}Content-Type: application/json\r\n")

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, (await self.reader.readexactly(length)) if length else b""

    def close(self) -> None:
        self.writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(n_tasks: int, n_users: int) -> tuple[int, list[str]]:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["PREFLAB_DATABASE_URL"] = DB_URL
    from app.cli import run_migrations
    from app.core.config import get_settings

    get_settings.cache_clear()
    run_migrations()
    from app.auth.service import create_token
    from app.core.db import get_engine, session_scope
    from app.imports.service import TaskWriter
    from app.imports.shapes import normalize_row
    from app.models import Member, User
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project

    with session_scope() as session:
        lead = User(email="lead@bench.test", name="lead", password_hash="x", is_admin=True)
        session.add(lead)
        session.flush()
        project = create_project(
            session, user=lead, data=ProjectCreate(name="overload bench", kind="pairwise")
        )
        tokens = []
        for i in range(n_users):
            user = User(email=f"a{i}@bench.test", name=f"a{i}", password_hash="x")
            session.add(user)
            session.flush()
            session.add(Member(project_id=project.id, user_id=user.id, role="annotator"))
            tokens.append(create_token(session, user=user, name="bench")[1])
        pid = project.id
    text = "An answer of a realistic length, " * 20
    for start in range(0, n_tasks, 5000):
        with session_scope() as session:
            rows = [
                normalize_row(
                    {
                        "external_id": f"t{i}",
                        "prompt": f"Question {i}: " + "context " * 30,
                        "responses": [{"text": f"A{i} {text}"}, {"text": f"B{i} {text}"}],
                    }
                )
                for i in range(start, min(start + 5000, n_tasks))
            ]
            TaskWriter(session, project_id=pid).write(rows)
    with session_scope() as session:
        session.connection().exec_driver_sql("ANALYZE")
    get_engine().dispose()
    return pid, tokens


class Tally:
    def __init__(self) -> None:
        self.status: dict[int, int] = {}
        self.latency: list[float] = []
        self.timeouts = 0
        self.errors = 0

    def add(self, status: int, took: float) -> None:
        self.status[status] = self.status.get(status, 0) + 1
        self.latency.append(took)


async def timed(conn: Conn, tally: Tally, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    t0 = time.perf_counter()
    status, answer = await asyncio.wait_for(conn.request(method, path, body), REQUEST_TIMEOUT_S)
    tally.add(status, time.perf_counter() - t0)
    return status, answer


async def annotator(port: int, token: str, pid: int, deadline: float, tally: Tally) -> None:
    """No think time: whatever the answer (503 included), the next request goes at once."""
    conn: Conn | None = None
    try:
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = await Conn.open(port, token)
                status, body = await timed(conn, tally, "POST", f"/api/v1/projects/{pid}/next")
                if status != 200:
                    continue
                claim = orjson.loads(body)
                put = orjson.dumps(
                    {
                        "task_id": claim["task"]["id"],
                        "assignment_id": claim["assignment"]["id"],
                        "result": {"choice": claim["assignment"]["order"][0], "strength": 1},
                        "lead_time_ms": 1000,
                    }
                )
                await timed(conn, tally, "PUT", f"/api/v1/annotations/{uuid.uuid4()}", put)
            except TimeoutError:
                tally.timeouts += 1
                if conn is not None:
                    conn.close()
                conn = None
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                tally.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                await asyncio.sleep(0.05)
    finally:  # the load stops: a request still out is abandoned, its socket closed
        if conn is not None:
            conn.close()


async def probe_health(port: int, deadline: float, worst: list[float]) -> None:
    """/healthz twice a second on a connection of its own while the load runs."""
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            conn = await asyncio.wait_for(Conn.open(port), 5)
            status, _ = await asyncio.wait_for(conn.request("GET", "/healthz"), 5)
            conn.close()
            worst.append(time.perf_counter() - t0 if status == 200 else float("inf"))
        except (OSError, TimeoutError):
            worst.append(float("inf"))
        await asyncio.sleep(0.5)


def watch_database(stop: list[bool], seen: dict[str, int]) -> None:
    """The most sessions waiting on a lock, and idle in a transaction, at any one second."""
    import psycopg

    with psycopg.connect(DB_URL.replace("+psycopg", ""), autocommit=True) as conn:
        while not stop:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
                " count(*) FILTER (WHERE state = 'idle in transaction'), count(*)"
                " FROM pg_stat_activity WHERE datname = %s",
                (DB_NAME,),
            ).fetchone()
            assert row is not None
            for key, value in zip(
                ("waiting_on_lock", "idle_in_transaction", "connections"), row, strict=True
            ):
                seen[key] = max(seen.get(key, 0), int(value))
            time.sleep(1)


async def until_answers(port: int, method: str, path: str, token: str | None, ok: set[int]) -> float:
    """Seconds until a fresh connection gets one of the `ok` answers to method path."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 300:
        try:
            conn = await asyncio.wait_for(Conn.open(port, token), 2)
            try:
                status, _ = await asyncio.wait_for(conn.request(method, path), 2)
            finally:
                conn.close()
            if status in ok:
                return time.perf_counter() - t0
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    return float("inf")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


async def run(port: int, tokens: list[str], pid: int, seconds: float) -> dict[str, float]:
    tally = Tally()
    health: list[float] = []
    deadline = time.perf_counter() + seconds
    clients = [asyncio.create_task(annotator(port, t, pid, deadline, tally)) for t in tokens[1:]]
    probe = asyncio.create_task(probe_health(port, deadline, health))
    await asyncio.sleep(seconds)
    for c in clients:  # the load stops now: requests still out are abandoned, sockets closed
        c.cancel()
    stopped = time.perf_counter()
    for c in clients:
        with contextlib.suppress(asyncio.CancelledError):
            await c
    await probe
    healthz_after, request_after = await asyncio.gather(
        until_answers(port, "GET", "/healthz", None, {200}),
        until_answers(port, "POST", f"/api/v1/projects/{pid}/next", tokens[0], {200, 204}),
    )
    cancel_s = time.perf_counter() - stopped
    total = sum(tally.status.values())
    return {
        "requests": total + tally.timeouts,
        "2xx": sum(n for s, n in tally.status.items() if 200 <= s < 300),
        "503": tally.status.get(503, 0),
        "other_status": sum(n for s, n in tally.status.items() if not (200 <= s < 300 or s == 503)),
        "timeouts": tally.timeouts,
        "connection_errors": tally.errors,
        "p50_ms": pct(tally.latency, 50),
        "p99_ms": pct(tally.latency, 99),
        "healthz_worst_under_load_ms": max(health, default=float("nan")) * 1000,
        "healthz_after_stop_s": healthz_after,
        "request_after_stop_s": request_after,
        "wind_down_s": cancel_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tasks", type=int, default=30_000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="the broker /readyz checks")
    args = parser.parse_args()
    t = time.perf_counter()
    pid, tokens = prepare(args.tasks, args.clients + 1)  # one more: the request timed after the load
    print(
        f"{args.clients} clients, {args.seconds:g} s, {args.workers} web processes, {args.tasks:,} tasks "
        f"(set up in {time.perf_counter() - t:.0f}s)",
        flush=True,
    )
    port = free_port()
    env = {
        **os.environ,
        "PREFLAB_DATABASE_URL": DB_URL,
        "PREFLAB_SECRET_KEY": "bench",
        "PREFLAB_BROKER_URL": args.redis,
        "PREFLAB_WEB_PROCESSES": str(args.workers),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "error",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    stop: list[bool] = []
    seen: dict[str, int] = {}
    watcher = threading.Thread(target=watch_database, args=(stop, seen), daemon=True)
    try:
        asyncio.run(until_answers(port, "GET", "/healthz", None, {200}))
        watcher.start()
        result = asyncio.run(run(port, tokens, pid, args.seconds))
    finally:
        stop.append(True)
        server.terminate()
        server.wait(30)
    watcher.join(5)
    result.update({f"db_max_{k}": v for k, v in seen.items()})
    print(
        "  " + "  ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in result.items())
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
