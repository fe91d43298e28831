"""Schemathesis over every API operation (issue 18, acceptance): a throwaway database seeded with the demo
projects (one per kind, with tasks), their lead (an admin) and an API token, a real server, and
`schemathesis run` against /api/v1/openapi.json with that token, path ids drawn half the time from the
seeded rows so that operations get past their 404s. Prints the operations, the requests, and the
server errors (5xx answers in the server's access log, which must be 0), with the first traceback.

    .venv/bin/python bench/api_fuzz.py                      # PostgreSQL, 15 examples per operation
    .venv/bin/python bench/api_fuzz.py --db sqlite --max-examples 10

Named api_fuzz.py, not schemathesis.py: a script of that name would shadow the package it runs.
"""

# ruff: noqa: E402 - the imports wait for the path fix below
from __future__ import annotations

import sys

# bench/queue.py would shadow the standard library's queue module: take this folder off the path.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "preflab_bench_fuzz"
LEAD_TOKEN_ID = 900_000_001  # far from the small ids the fuzzer tries, so it never revokes its own token
ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(kind: str, data_dir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{data_dir / 'fuzz.db'}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"


def seed() -> tuple[str, dict[str, list[int | str]]]:
    """The demo projects and their lead, an annotator in each, a token; the ids the fuzzer may use."""
    from sqlalchemy import select, update

    from app.auth.service import create_token, create_user
    from app.cli import run_migrations
    from app.core.db import get_engine, session_scope
    from app.demo.seed import ADMIN_EMAIL, seed_demo
    from app.models import ApiToken, Member, Project, Task, User

    run_migrations()
    with session_scope() as session:
        seed_demo(session, admin_password="fuzz-admin-password")
        lead = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
        annotator = create_user(session, email="annotator@fuzz.test", password="fuzz-annotator-pw")
        pids = list(session.scalars(select(Project.id).order_by(Project.id)))
        for pid in pids:
            session.add(Member(project_id=pid, user_id=annotator.id, role="annotator"))
        token, raw = create_token(session, user=lead, name="fuzz")
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(id=LEAD_TOKEN_ID))
        tids = list(session.scalars(select(Task.id).order_by(Task.id).limit(40)))
        ids: dict[str, list[int | str]] = {
            "pid": list(pids),
            "tid": list(tids),
            "user_id": [lead.id, annotator.id],
        }
    get_engine().dispose()
    return raw, ids


def config_file(path: Path, ids: dict[str, list[int | str]], probability: float) -> Path:
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name in ids:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {probability} }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--max-examples", type=int, default=15, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="a broker of its own")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the server log")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="preflab-fuzz-"))
    os.environ.update(
        PREFLAB_DATA_DIR=str(data_dir),
        PREFLAB_DATABASE_URL=database_url(args.db, data_dir),
        PREFLAB_BROKER_URL=args.redis,
        PREFLAB_SECRET_KEY="fuzz",
    )
    started = time.perf_counter()
    token, ids = seed()
    print(
        f"seeded {len(ids['pid'])} projects on {args.db} in {time.perf_counter() - started:.0f}s", flush=True
    )

    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            config = config_file(data_dir / "schemathesis.toml", ids, probability=0.5)
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(config),
                "--no-color",
                "run",
                f"http://127.0.0.1:{port}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                str(args.workers),
                "--continue-on-failure",
                "--request-timeout",
                "30",
                "--wait-for-schema",
                "60",
                "--suppress-health-check",
                "all",
                "--report",
                "junit",
                "--report-dir",
                str(data_dir / "report"),
            ]
            fuzz_started = time.perf_counter()
            done = subprocess.run(command, cwd=data_dir, capture_output=True, text=True)
            took = time.perf_counter() - fuzz_started
        finally:
            server.terminate()
            server.wait(30)
    output = (done.stdout + done.stderr).splitlines()
    summary = [
        line for line in output if re.search(r"passed|failed|errored|skipped|Operations|Test cases", line)
    ]
    text = log_path.read_text(errors="replace")
    answers = [(m.group(1), m.group(2), int(m.group(3))) for m in ACCESS.finditer(text)]
    ids_in_path = re.compile(r"/\d+")
    errors = Counter(
        f"{method} {ids_in_path.sub('/{id}', path.split('?')[0])} {status}"
        for method, path, status in answers
        if status >= 500
    )
    statuses = Counter(f"{status // 100}xx" for _, _, status in answers)
    print("\n".join(summary[-8:]))
    for line, n in errors.most_common(20):
        print(f"  5xx  {n:5d}  {line}")
    if errors:
        first = text.find("Traceback")
        print(text[first : first + 4000] if first >= 0 else "(no traceback in the server log)")
        if "--keep" not in sys.argv:
            print(f"server log: {log_path} (kept)")
            args.keep = True
    result = {
        "db": args.db,
        "requests": len(answers),
        "by_class": dict(sorted(statuses.items())),
        "server_errors": sum(errors.values()),
        "schemathesis_exit": done.returncode,
        "seconds": round(took),
    }
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.db == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    sys.exit(1 if result["server_errors"] or done.returncode else 0)


if __name__ == "__main__":
    main()
