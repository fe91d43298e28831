"""Pre-label throughput: a `label` job over N tasks against the OpenAI-compatible stub answering after a fixed
latency, at several concurrency settings. Prints items/s and the ratio to the bound concurrency / latency
(what a perfect client would reach). The stub runs in its own process, as a real endpoint would.

    .venv/bin/python bench/prelabel.py [--n 2000] [--latency-ms 50] [--concurrency 1,8,32,64]
                                       [--db sqlite|postgresql]

The whole job is measured: reading tasks, rendering templates, the `openai` client with its retries, and
writing suggestions, cost and progress to the database."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/preflab_bench_prelabel"
    )
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="preflab-bench-prelabel-"))
    os.environ["PREFLAB_DATA_DIR"] = str(data)
    os.environ["PREFLAB_SECRET_KEY"] = "bench"
    if args.db == "postgresql":
        import psycopg

        admin = args.pg_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)
        with psycopg.connect(f"{admin[0]}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{admin[1]}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{admin[1]}"')
        os.environ["PREFLAB_DATABASE_URL"] = args.pg_url
    else:
        os.environ["PREFLAB_DATABASE_URL"] = f"sqlite:///{data / 'bench.db'}"

    from sqlalchemy import func, select

    from app.cli import run_migrations
    from app.core.db import session_scope
    from app.imports.service import TaskWriter
    from app.imports.shapes import normalize_row
    from app.models import Project, Suggestion, User
    from app.prelabel.job import run_prelabel_job
    from app.prelabel.schemas import PrelabelRequest
    from app.prelabel.service import start_prelabel_job
    from app.projects.schemas import validate_settings

    run_migrations()
    port = _free_port()
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.web.llm_stub",
            "--port",
            str(port),
            "--latency-ms",
            str(args.latency_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        import httpx

        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/_stub/stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with session_scope() as session:
            lead = User(email="bench@example.test", password_hash="x", name="bench")
            session.add(lead)
            project = Project(
                name="bench",
                kind="classification",
                settings=validate_settings(
                    "classification", {"labels": ["billing", "delivery", "account", "other"]}
                ),
                llm={"base_url": f"http://127.0.0.1:{port}/v1", "model": "stub", "credential": ""},
            )
            session.add(project)
            session.flush()
            rows = [
                normalize_row(
                    {"prompt": f"Ticket {i}: my delivery is late and I was billed twice.", "responses": []}
                )
                for i in range(args.n)
            ]
            TaskWriter(session, project_id=project.id).write(rows)
            project_id, lead_id = project.id, lead.id

        print(
            f"pre-label bench: {args.n} tasks, label mode, stub latency {args.latency_ms:.0f} ms, {args.db}"
        )
        print(f"{'concurrency':>11} {'seconds':>8} {'items/s':>8} {'bound':>8} {'of bound':>9}")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            with session_scope() as session:
                project = session.get_one(Project, project_id)
                project.llm = {**project.llm, "concurrency": concurrency}
                job, total, _ = start_prelabel_job(
                    session,
                    project=project,
                    user=session.get_one(User, lead_id),
                    request=PrelabelRequest.model_validate(
                        {"mode": "label", "use_cache": False, "filter": {"only_missing": False}}
                    ),
                )
                session.info.pop("preflab_pending_tasks", None)  # run here, not on a worker
                job_id = job.id
            started = time.perf_counter()
            status = run_prelabel_job(job_id)
            seconds = time.perf_counter() - started
            with session_scope() as session:
                made = session.scalar(
                    select(func.count()).where(Suggestion.job_id == job_id, Suggestion.error.is_(None))
                )
            assert status == "succeeded" and made == total == args.n, (status, made, total)
            rate = args.n / seconds
            bound = concurrency / (args.latency_ms / 1000)
            print(f"{concurrency:>11} {seconds:>8.2f} {rate:>8.1f} {bound:>8.0f} {rate / bound:>8.0%}")
    finally:
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
