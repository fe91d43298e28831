"""Import throughput and memory: N realistic pairwise tasks uploaded through the API, beside the database's
own ceiling (the same rows written straight into an empty copy of the task table with pipelined
`executemany … ON CONFLICT DO NOTHING`).

    .venv/bin/python bench/import.py                      # PostgreSQL on 127.0.0.1, 100k and 1M tasks
    .venv/bin/python bench/import.py --n 20000 --db sqlite

Starts its own server (uvicorn) and worker (Celery, Redis broker) on a fresh database, and samples their
resident memory every 50 ms."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module: keep the script's own
# folder off the import path.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = [
    "model",
    "response",
    "answer",
    "explain",
    "detail",
    "example",
    "because",
    "therefore",
    "however",
    "python",
    "function",
    "value",
    "return",
    "error",
    "result",
    "data",
    "table",
    "query",
    "index",
    "latency",
    "memory",
    "careful",
    "reason",
    "step",
    "first",
    "second",
    "finally",
    "context",
    "user",
    "assistant",
    "helpful",
    "honest",
    "harmless",
    "concise",
    "clear",
    "correct",
]


def sentence(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out).capitalize() + "."


def write_file(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    # A pool of texts, combined per row with its number so that every row is distinct.
    prompts = [sentence(rng, 300) for _ in range(500)]
    answers = [sentence(rng, 790) for _ in range(2000)]
    with path.open("wb") as fh:
        for i in range(n):
            row = {
                "prompt": f"[{i}] {rng.choice(prompts)}",
                "responses": [
                    {"text": f"{rng.choice(answers)} ({i}a)", "model": "model-a"},
                    {"text": f"{rng.choice(answers)} ({i}b)", "model": "model-b"},
                ],
            }
            fh.write(orjson.dumps(row) + b"\n")


class PeakRSS(threading.Thread):
    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.running = True

    def run(self) -> None:
        while self.running:
            for name, proc in self.procs.items():
                try:
                    rss = proc.memory_info().rss + sum(
                        c.memory_info().rss for c in proc.children(recursive=True)
                    )
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    import psycopg

    if "app.core.db" in sys.modules:  # an earlier round's pooled connections die with the database
        sys.modules["app.core.db"].get_engine().dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "preflab_bench" WITH (FORCE)')
        conn.execute('CREATE DATABASE "preflab_bench"')
    return "postgresql+psycopg://postgres@127.0.0.1:5432/preflab_bench"


def ceiling(url: str, path: Path, batch: int) -> float:
    """Rows/s of the bare write: pre-serialized rows, executemany … ON CONFLICT DO NOTHING into a copy."""
    from app.core.db import make_engine
    from app.imports.service import TaskWriter
    from app.imports.shapes import normalize_row

    rows = [normalize_row(orjson.loads(line)) for line in path.read_bytes().splitlines()]
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("CREATE TABLE tasks_ceiling (LIKE tasks INCLUDING ALL)")
        else:
            ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name='tasks'").scalar_one()
            conn.exec_driver_sql(ddl.replace("CREATE TABLE tasks", "CREATE TABLE tasks_ceiling", 1))
            conn.exec_driver_sql("CREATE UNIQUE INDEX ceil_uq ON tasks_ceiling (project_id, dedupe_key)")
        project_id = conn.exec_driver_sql("SELECT min(id) FROM projects").scalar_one()
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        writer = TaskWriter(session, project_id=project_id)

        params = writer.params(rows)
        del rows
        from app.imports import service

        insert = (
            service._PG_INSERT if engine.dialect.name == "postgresql" else service._SQLITE_INSERT
        ).replace("INSERT INTO tasks ", "INSERT INTO tasks_ceiling ")
        dbapi = session.connection().connection.dbapi_connection
        assert dbapi is not None
        start = time.perf_counter()
        for i in range(0, len(params), batch):
            cur = dbapi.cursor()
            cur.executemany(insert, params[i : i + batch])
            cur.close()
            dbapi.commit()
        elapsed = time.perf_counter() - start
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE tasks_ceiling")
    engine.dispose()
    return len(params) / elapsed


def run_one(n: int, db: str, tmp: Path) -> dict[str, float]:
    data = tmp / f"tasks-{n}.jsonl"
    t0 = time.perf_counter()
    write_file(data, n)
    print(
        f"  generated {n:,} tasks, {data.stat().st_size / 2**20:,.0f} MiB in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    url = fresh_database(db, tmp)
    env = {
        **os.environ,
        "PREFLAB_DATABASE_URL": url,
        "PREFLAB_DATA_DIR": str(tmp / "var"),
        "PREFLAB_BROKER_URL": "redis://127.0.0.1:6379/14",
        "PREFLAB_SECRET_KEY": "bench",
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True)
    os.environ.update(env)
    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.auth.service import create_token, create_user
    from app.core.db import session_scope
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project

    with session_scope() as session:
        user = create_user(session, email=f"bench{n}@example.com", password="benchmark-pw", is_admin=True)
        project = create_project(session, user=user, data=ProjectCreate(name="bench", kind="pairwise"))
        _, token = create_token(session, user=user)
        pid = project.id
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "-Q",
            "default",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        sampler = PeakRSS({"server": server.pid, "worker": worker.pid})
        sampler.start()
        auth = {"Authorization": f"Bearer {token}"}
        start = time.perf_counter()
        with data.open("rb") as fh:
            r = httpx.post(
                f"{base}/api/v1/projects/{pid}/imports",
                headers=auth,
                timeout=3600,
                files={"file": (data.name, fh, "application/x-ndjson")},
            )
        uploaded = time.perf_counter() - start
        if r.status_code == 202:
            job_id = r.json()["job_id"]
            while True:
                job = httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=auth, timeout=30).json()
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.25)
            assert job["status"] == "succeeded", job
            imported = job["result"]["imported"]
        else:
            assert r.status_code == 201, r.text
            imported = r.json()["imported"]
        elapsed = time.perf_counter() - start
        sampler.running = False
        sampler.join()
        assert imported == n, (imported, n)
    finally:
        server.terminate()
        worker.terminate()
        server.wait(30)
        worker.wait(30)
    ceil = ceiling(url, data, batch=2000)
    data.unlink()
    return {
        "api_tasks_per_s": n / elapsed,
        "upload_s": uploaded,
        "total_s": elapsed,
        "server_peak_rss_mb": sampler.peak["server"] / 2**20,
        "worker_peak_rss_mb": sampler.peak["worker"] / 2**20,
        "ceiling_tasks_per_s": ceil,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, action="append", help="tasks (repeatable); default 100000 and 1000000"
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    sizes = args.n or [100_000, 1_000_000]
    results = {}
    with tempfile.TemporaryDirectory(prefix="preflab-bench-") as tmp:
        for n in sizes:
            print(f"import of {n:,} pairwise tasks on {args.db}", flush=True)
            res = run_one(n, args.db, Path(tmp))
            results[n] = res
            print(
                f"  API import: {res['api_tasks_per_s']:,.0f} tasks/s ({res['total_s']:.1f}s, upload "
                f"{res['upload_s']:.1f}s); peak RSS server {res['server_peak_rss_mb']:.0f} MB, worker "
                f"{res['worker_peak_rss_mb']:.0f} MB",
                flush=True,
            )
            print(
                f"  ceiling (executemany ON CONFLICT DO NOTHING into a copy of tasks): "
                f"{res['ceiling_tasks_per_s']:,.0f} tasks/s -> API at "
                f"{100 * res['api_tasks_per_s'] / res['ceiling_tasks_per_s']:.0f}% of ceiling",
                flush=True,
            )
    print(json.dumps({str(k): {m: round(v, 1) for m, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    main()
