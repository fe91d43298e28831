"""Dashboard timing on a PostgreSQL project with 1,000,000 pairwise annotations (500k tasks, 8 annotators,
two answers a task, each with its lease and display order; 1,000 gold tasks; an LLM judge on 10 % of tasks).

Prints: the time to compute every figure from scratch (what a refresh job does), and the dashboard page and
the stats API as a lead sees them (p50 / p95 / max over repeated requests) when the figures are cached,
and when they are stale (served at once while a job recomputes them).

    .venv/bin/python bench/dashboard.py [--annotations 1000000] [--skip-seed]

Target (issue 5): the page under 300 ms for a project with 1M annotations."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_timing import make_lead, signed_in, summary, timed, use_database  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "preflab_bench_dashboard"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"

SEED_SQL = """
INSERT INTO users (email, name, password_hash, is_admin, is_active, created_at)
SELECT 'annotator' || g || '@example.test', 'Annotator ' || g, 'x', false, true, now()
FROM generate_series(1, 8) g;
INSERT INTO projects (name, kind, instructions, settings, llm, is_private, created_at, updated_at)
VALUES ('Bench dashboard', 'pairwise', '', '{"kind": "pairwise", "overlap": 2, "allow_ties": true,
  "strength_scale": ["a", "b", "c", "d"], "criteria": [], "rationale": "optional", "lease_minutes": 10,
  "show_suggestions": true, "gold_rate": 0.0, "reveal_annotators": false, "min_seconds_per_task": 2.0,
  "auto_pause": false, "gold_min_accuracy": 0.6, "gold_min_answers": 5}', '{}', false, now(), now());
INSERT INTO members (project_id, user_id, role, created_at) SELECT 1, id, 'annotator', now() FROM users;
INSERT INTO tasks (project_id, external_id, dedupe_key, prompt, responses, meta, priority, status,
                   annotation_count, reserved, gold, created_at)
SELECT 1, 't' || g, 't' || g, to_jsonb('Question ' || g || '?'),
  jsonb_build_array(jsonb_build_object('id', 'a', 'text', 'first answer', 'model', 'model-' || g % 4),
                    jsonb_build_object('id', 'b', 'text', 'second answer', 'model', 'model-' || (g + 1) % 4)),
  '{}', 0, 'done', 2, 0,
  CASE WHEN g <= 1000 THEN '{"choice": "a"}'::jsonb END, now() - (g % 60) * interval '1 day'
FROM generate_series(1, :tasks) g;
INSERT INTO assignments (task_id, project_id, user_id, "order", seed, status, expires_at, completed_at,
                         created_at)
SELECT t.id, 1, 1 + (t.id * 2 + k) % 8,
  CASE WHEN (t.id + k) % 2 = 0 THEN '["a", "b"]'::jsonb ELSE '["b", "a"]'::jsonb END,
  0, 'submitted', t.created_at, t.created_at, t.created_at
FROM tasks t CROSS JOIN generate_series(0, 1) k;
INSERT INTO annotations (uuid, task_id, project_id, user_id, assignment_id, result, lead_time_ms, origin,
                         status, updated_at, created_at)
SELECT md5(a.id::text), a.task_id, 1, a.user_id, a.id,
  jsonb_build_object('choice', CASE WHEN (a.task_id * 7 + a.user_id) % 6 = 0 THEN 'b' ELSE 'a' END,
                     'strength', (a.task_id % 4)::int),
  500 + (a.task_id * 37 + a.user_id * 101) % 40000, 'human', 'submitted', a.created_at, a.created_at
FROM assignments a;
INSERT INTO suggestions (task_id, kind, result, model, tokens_in, tokens_out, cost, created_at)
SELECT id, 'judge', '{"choice": "a", "rationale": "r", "orders_agree": true}', 'judge', 0, 0, 0, now()
FROM tasks WHERE id % 10 = 0;
"""


def seed(annotations: int, db_name: str = DB_NAME) -> float:
    """A fresh database `db_name`, migrated, holding the project; seconds the rows took."""
    import psycopg

    url = URL.replace(DB_NAME, db_name)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    env = {**os.environ, "PREFLAB_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        for statement in SEED_SQL.replace(":tasks", str(annotations // 2)).split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    if not args.skip_seed:
        took = seed(args.annotations)
        print(f"seeded {args.annotations:,} annotations in {took:.0f} s")
    use_database(URL)
    from app.core.db import session_scope
    from app.models import Job, Project, ProjectStats, utcnow
    from app.quality.stats import compute_stats, store_stats

    with session_scope() as session:
        project = session.get_one(Project, 1)
        t0 = time.perf_counter()
        data = compute_stats(session, project)
        cold = time.perf_counter() - t0
        sampled, answers = data["agreement"]["sample_units"], data["progress"]["annotations"]
        print(f"compute every figure from scratch: {cold * 1000:,.0f} ms",
              f"({answers:,} annotations, agreement on {sampled:,} sampled tasks)")  # fmt: skip
        email, token = make_lead(session)
        store_stats(session, project)
    lead = signed_in(email, token)
    client, headers = lead.client, lead.headers
    warm_page = timed(lambda: client.get("/projects/1/dashboard").raise_for_status(), args.requests)
    warm_api = timed(
        lambda: client.get("/api/v1/projects/1/stats", headers=headers).raise_for_status(), args.requests
    )
    print(f"dashboard page, figures cached:   {summary(warm_page)}")
    print(f"stats API, figures cached:        {summary(warm_api)}")

    stale_page = []
    for _ in range(10):
        with session_scope() as session:  # figures five minutes old, no refresh job pending
            session.get_one(ProjectStats, 1).computed_at = utcnow() - timedelta(minutes=5)
            for job in session.query(Job).filter(Job.kind == "stats"):
                job.status = "cancelled"
        stale_page += timed(lambda: client.get("/projects/1/dashboard").raise_for_status(), 1)
    print(f"dashboard page, figures stale:    {summary(stale_page)} (served at once; a job recomputes them)")
    print("target: the page under 300 ms with 1M annotations")


if __name__ == "__main__":
    main()
