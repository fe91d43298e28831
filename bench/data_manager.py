"""Data manager timing on a PostgreSQL project of 1,000,000 tasks (a third done with two answers' worth of
counts and an agreement figure, 1 % closed; four meta sources; 10 % with a suggestion; 1,000 gold; 200
flagged; prompts drawn from 50 topic words, one rare word in 10 tasks).

Prints the median (and p95) of each page as the API answers it to a lead (GET /api/v1/projects/1/tasks, 50
rows), and the Tasks tab's HTML page: the first page, a page deep in the list, filtered pages, sorts, and
text searches (a common word; a rare one, which reads every prompt).

    .venv/bin/python bench/data_manager.py [--tasks 1000000] [--skip-seed] [--requests 15]"""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_timing import make_lead, signed_in, summary, timed, use_database  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "preflab_bench_data_manager"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"

WORDS = (  # noqa: SIM905 - fifty topic words
    "bread river garden engine violin planet winter mirror candle forest harbor ladder pepper castle "
    "rocket velvet meadow copper lantern island thunder saddle pillow marble falcon orchard cactus "
    "helmet glacier tunnel compass basket feather lemon anchor canyon dragon pebble mosaic blanket "
    "walnut quartz beacon magnet ribbon sailor cobalt tundra parrot kettle"
).split()

SEED_SQL = """
INSERT INTO users (email, name, password_hash, is_admin, is_active, created_at)
VALUES ('annotator@bench.test', 'Annotator', 'x', false, true, now());
INSERT INTO projects (name, kind, instructions, settings, llm, is_private, created_at, updated_at)
VALUES ('Bench data manager', 'pairwise', '', '{"kind": "pairwise", "overlap": 2, "allow_ties": true,
  "strength_scale": ["a", "b", "c", "d"], "criteria": [], "rationale": "optional", "lease_minutes": 10,
  "show_suggestions": true, "gold_rate": 0.0, "reveal_annotators": false, "min_seconds_per_task": 2.0,
  "auto_pause": false, "gold_min_accuracy": 0.6, "gold_min_answers": 5}', '{}', false, now(), now());
INSERT INTO tasks (project_id, external_id, dedupe_key, prompt, responses, meta, priority, status,
                   annotation_count, reserved, extra_overlap, agreement, agreement_n, gold, created_at)
SELECT 1, 't' || g, 't' || g,
  to_jsonb(CASE WHEN g % 100000 = 7 THEN 'A question about a zebra, number ' || g
                ELSE 'Question ' || g || ' about the ' || (:words)[1 + g % 50] || ' and the '
                     || (:words)[1 + (g / 50) % 50] || '?' END),
  '[{"id": "a", "text": "first answer"}, {"id": "b", "text": "second answer"}]'::jsonb,
  jsonb_build_object('source', (ARRAY['web', 'api', 'forum', 'mail'])[1 + g % 4], 'batch', g / 1000),
  g % 10,
  CASE WHEN g % 97 = 0 THEN 'closed' WHEN g % 3 = 0 THEN 'done' ELSE 'open' END,
  CASE WHEN g % 3 = 0 THEN 2 ELSE g % 2 END, 0, 0,
  CASE WHEN g % 3 = 0 THEN (CASE WHEN g % 4 = 0 THEN 0.5 ELSE 1.0 END) END,
  CASE WHEN g % 3 = 0 THEN 2 ELSE g % 2 END,
  CASE WHEN g <= 1000 THEN '{"choice": "a"}'::jsonb END,
  now() - (g % 60) * interval '1 day'
FROM generate_series(1, :tasks) g;
INSERT INTO suggestions (task_id, kind, result, model, tokens_in, tokens_out, cost, created_at)
SELECT id, 'judge', '{"choice": "a"}', 'judge', 0, 0, 0, now() FROM tasks WHERE id % 10 = 0;
INSERT INTO task_flags (task_id, project_id, user_id, reason, comment, created_at)
SELECT id, 1, 1, 'unclear', '', now() FROM tasks WHERE id % 5000 = 0;
"""


def seed(tasks: int) -> float:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    env = {**os.environ, "PREFLAB_DATABASE_URL": URL}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    words = "ARRAY[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        for statement in SEED_SQL.replace(":tasks", str(tasks)).replace(":words", words).split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


CASES = [  # (what, query string)
    ("first page", ""),
    ("a page half way (cursor)", "cursor=500000"),
    ("status=done, by priority desc", "status=done&sort=-priority"),
    ("status=closed (1 %)", "status=closed"),
    ("meta source=forum", "meta=source%3Dforum"),
    ("gold (1,000 tasks)", "gold=true"),
    ("flagged (200 tasks)", "flagged=true"),
    ("has a suggestion", "has_suggestion=true"),
    ("agreement <= 50 %, by agreement", "max_agreement=0.5&sort=agreement"),
    ("most annotations first", "sort=-annotations"),
    ("text search, common word", "q=violin"),
    ("text search + status=done", "q=violin&status=done"),
    ("text search, rare word (10 tasks)", "q=zebra"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    if not args.skip_seed:
        took = seed(args.tasks)
        print(f"seeded {args.tasks:,} tasks in {took:.0f} s")
    use_database(URL)
    from app.core.db import session_scope

    with session_scope() as session:
        email, token = make_lead(session)
    lead = signed_in(email, token)
    client, headers = lead.client, lead.headers
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"GET /api/v1/projects/1/tasks (50 rows), through the whole app;"
        f" load average {load} on {os.cpu_count()} CPUs"
    )
    for what, query in CASES:
        url = f"/api/v1/projects/1/tasks?{query}"
        first = client.get(url, headers=headers)
        first.raise_for_status()
        rows = len(first.json()["items"])
        ms = timed(lambda url=url: client.get(url, headers=headers).raise_for_status(), args.requests)
        print(f"  {what:40} {rows:3} rows  {summary(ms)}")
    for what, query in (("Tasks tab, first page", ""), ("Tasks tab, text search", "q=violin")):
        page = f"/projects/1/tasks?{query}"
        client.get(page).raise_for_status()
        ms = timed(lambda page=page: client.get(page).raise_for_status(), args.requests)
        print(f"  {what:40}           {summary(ms)}")


if __name__ == "__main__":
    main()
