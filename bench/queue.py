"""Annotation loop throughput: K simulated annotators over HTTP (keep-alive, a minimal asyncio HTTP/1.1
client: the load generator shares the cores with the server and PostgreSQL, so it must be cheap) against
a running server on a PostgreSQL project of N tasks. Prints cycles/s (next + submit), p50/p95/p99 of each,
and duplicates found.

    .venv/bin/python bench/queue.py                       # K=1 and K=32 on N=10,000, then K=1 on 1,000,000
    .venv/bin/python bench/queue.py --n 10000 --k 32 --seconds 10
"""

from __future__ import annotations

import sys

# This file is named queue.py, like the standard library's queue module that asyncio needs: take the
# script's own folder off the import path before anything imports `queue`.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import orjson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/preflab_bench_queue"


class Conn:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON requests."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str
    ) -> None:
        self.reader, self.writer = reader, writer
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, (await self.reader.readexactly(length)) if length else b""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(n_tasks: int, n_users: int) -> tuple[int, list[str]]:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "preflab_bench_queue" WITH (FORCE)')
        conn.execute('CREATE DATABASE "preflab_bench_queue"')
    os.environ["PREFLAB_DATABASE_URL"] = DB_URL
    from app.cli import run_migrations
    from app.core.config import get_settings

    get_settings.cache_clear()
    run_migrations()
    from app.auth.service import create_token
    from app.core.db import session_scope
    from app.imports.service import TaskWriter
    from app.imports.shapes import normalize_row
    from app.models import Member, User
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project

    with session_scope() as session:
        lead = User(email="lead@bench.test", name="lead", password_hash="x", is_admin=True)
        session.add(lead)
        session.flush()
        project = create_project(session, user=lead, data=ProjectCreate(name="queue bench", kind="pairwise"))
        tokens = []
        for i in range(n_users):
            user = User(email=f"a{i}@bench.test", name=f"a{i}", password_hash="x")
            session.add(user)
            session.flush()
            session.add(Member(project_id=project.id, user_id=user.id, role="annotator"))
            tokens.append(create_token(session, user=user, name="bench")[1])
        pid = project.id
    text = "An answer of a realistic length, " * 20
    batch = 5000
    for start in range(0, n_tasks, batch):
        with session_scope() as session:
            rows = [
                normalize_row(
                    {
                        "external_id": f"t{i}",
                        "prompt": f"Question {i}: " + "context " * 30,
                        "responses": [{"text": f"A{i} {text}"}, {"text": f"B{i} {text}"}],
                    }
                )
                for i in range(start, min(start + batch, n_tasks))
            ]
            TaskWriter(session, project_id=pid).write(rows)
    with session_scope() as session:
        session.connection().exec_driver_sql("ANALYZE")
    from app.core.db import get_engine

    get_engine().dispose()  # the next round drops this database
    return pid, tokens


async def annotator(
    port: int, token: str, pid: int, deadline: float, out: dict[str, list[float]], seen: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Conn(reader, writer, f"127.0.0.1:{port}", token)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status, body = await conn.request("POST", f"/api/v1/projects/{pid}/next")
            t1 = time.perf_counter()
            if status == 204:
                break
            assert status == 200, (status, body[:200])
            claim = orjson.loads(body)
            task_id = claim["task"]["id"]
            put = orjson.dumps(
                {
                    "task_id": task_id,
                    "assignment_id": claim["assignment"]["id"],
                    "result": {"choice": claim["assignment"]["order"][0], "strength": 1},
                    "lead_time_ms": 1000,
                }
            )
            status, body = await conn.request("PUT", f"/api/v1/annotations/{uuid.uuid4()}", put)
            t2 = time.perf_counter()
            assert status == 201, (status, body[:200])
            out["next"].append(t1 - t0)
            out["submit"].append(t2 - t1)
            seen.append(task_id)
    finally:
        writer.close()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else float("nan")


async def run_load(port: int, tokens: list[str], pid: int, seconds: float) -> dict[str, float]:
    out: dict[str, list[float]] = {"next": [], "submit": []}
    seen: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(annotator(port, t, pid, deadline, out, seen) for t in tokens))
    elapsed = time.perf_counter() - start
    return {
        "cycles_per_s": len(out["submit"]) / elapsed,
        "next_p50_ms": pct(out["next"], 50),
        "next_p95_ms": pct(out["next"], 95),
        "next_p99_ms": pct(out["next"], 99),
        "submit_p50_ms": pct(out["submit"], 50),
        "submit_p95_ms": pct(out["submit"], 95),
        "submit_p99_ms": pct(out["submit"], 99),
        "cycles": len(out["submit"]),
        "duplicate_tasks_in_loop": len(seen) - len(set(seen)),
    }


def db_duplicates() -> int:
    import psycopg

    with psycopg.connect(DB_URL.replace("+psycopg", "")) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT task_id FROM annotations GROUP BY task_id HAVING count(*) > 1) x"
        ).fetchone()
    return int(over[0]) if over else -1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, action="append", help="tasks (repeatable)")
    parser.add_argument("--k", type=int, action="append", help="annotators (repeatable)")
    parser.add_argument("--seconds", type=float, default=10)
    # Processes, not threads: the database calls block, so twice the cores overlaps their waits (measured:
    # 4 workers did 2.8x the cycles/s of 2 at K=32 on 2 cores; 8 did no better than 4).
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2))
    args = parser.parse_args()
    plan = [(n, k) for n in (args.n or [10_000]) for k in (args.k or [1, 32])]
    if not args.n and not args.k:
        plan.append((1_000_000, 1))
    results = []
    for n, k in plan:
        t = time.perf_counter()
        pid, tokens = prepare(n, k)
        print(f"N={n:,} tasks, K={k} annotators (set up in {time.perf_counter() - t:.0f}s)", flush=True)
        port = free_port()
        env = {
            **os.environ,
            "PREFLAB_DATABASE_URL": DB_URL,
            "PREFLAB_SECRET_KEY": "bench",
            "PREFLAB_BROKER_URL": "redis://127.0.0.1:6379/14",
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
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            asyncio.run(run_load(port, tokens[:1], pid, 1.0))  # warm up every worker's pool and caches
            res = asyncio.run(run_load(port, tokens, pid, args.seconds))
        finally:
            server.terminate()
            server.wait(20)
        res["db_tasks_with_two_annotations"] = db_duplicates()
        print("  " + "  ".join(f"{key}={value:,.1f}" for key, value in res.items()), flush=True)
        results.append({"n": n, "k": k, **res})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
