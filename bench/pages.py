"""Every page and list of a big project, timed: median, p95 and the worst of repeated requests after a
warm-up, beside the 100 ms target (issue 17). The project is the one bench/dashboard.py seeds (500k
pairwise tasks between four models, 1M annotations waiting for review, 1,000 gold tasks, a judge on 10 %),
in a database of its own, read by an admin who leads it.

    .venv/bin/python bench/pages.py [--annotations 1000000] [--requests 5] [--skip-seed]

After seeding, the figures kept per task (app/quality/task_figures.py) are brought up to date as the stats
job would after an upgrade, and that time is printed. Then, besides the pages at rest: the review queue
and the leaderboard while answers arrive (a batch of new answers before each request, which the request
brings into the order itself)."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_timing import make_lead, signed_in, timed, use_database  # noqa: E402
from bench.dashboard import URL, seed  # noqa: E402

DB_NAME = "preflab_bench_pages"
TARGET_MS = 100.0

PAGES = [
    ("home", "/"),
    ("project overview", "/projects/1"),
    ("tasks (data manager)", "/projects/1/tasks"),
    ("annotate", "/projects/1/annotate"),
    ("members", "/projects/1/members"),
    ("review page", "/projects/1/review"),
    ("leaderboard page", "/projects/1/leaderboard"),
    ("pre-label page", "/projects/1/prelabel"),
    ("dashboard page", "/projects/1/dashboard"),
]
APIS = [
    ("GET /api/v1/projects/1", "/api/v1/projects/1"),
    ("review-queue API", "/api/v1/projects/1/review-queue"),
    ("leaderboard API", "/api/v1/projects/1/leaderboard"),
    ("stats API", "/api/v1/projects/1/stats"),
    ("task list API", "/api/v1/projects/1/tasks"),
    ("annotation list API", "/api/v1/projects/1/annotations"),
]

NEW_ANSWERS_SQL = """
INSERT INTO annotations (uuid, task_id, project_id, user_id, result, lead_time_ms, origin, status,
                         updated_at, created_at)
SELECT md5(random()::text || g), t.id, 1, 1 + g % 8, '{"choice": "b", "strength": 1}', 900, 'human',
       'submitted', now(), now()
FROM generate_series(1, :n) g JOIN tasks t ON t.id = 1 + (g * 7919 + :salt) % :tasks
ON CONFLICT DO NOTHING
"""


def line(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    verdict = "ok" if median < TARGET_MS else "OVER"
    return f"  {name:30} p50 {median:8.1f}  p95 {p95:8.1f}  max {ordered[-1]:8.1f} ms   {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    url = URL.replace("preflab_bench_dashboard", DB_NAME)
    if not args.skip_seed:
        took = seed(args.annotations, DB_NAME)
        print(f"seeded {args.annotations:,} annotations in {took:.0f} s (the triggers' notes included)")
    use_database(url)
    from sqlalchemy import text

    from app.core.db import session_scope
    from app.models import Project, User
    from app.quality import task_figures
    from app.quality.stats import store_stats

    with session_scope() as session:
        project = session.get_one(Project, 1)
        t0 = time.perf_counter()
        refreshed = task_figures.refresh(session, project)
        print(f"kept figures brought up to date: {refreshed:,} tasks in {time.perf_counter() - t0:.1f} s")
    with session_scope() as session:
        store_stats(session, session.get_one(Project, 1))  # the dashboard's figures, as its job keeps them
        email, token = make_lead(session)
        session.query(User).filter(User.email == email).update({"is_admin": True})
        tasks = session.execute(text("SELECT count(*) FROM tasks")).scalar_one()
        answers = session.execute(text("SELECT count(*) FROM annotations")).scalar_one()
    print(
        f"project: {tasks:,} tasks, {answers:,} annotations; {args.requests} requests each after one warm-up"
    )
    lead = signed_in(email, token)
    client, headers = lead.client, lead.headers
    over = []
    for title, group, auth in (("pages", PAGES, {}), ("API", APIS, headers)):
        print(title)
        for name, path in group:

            def get(path: str = path, auth: dict[str, str] = auth) -> None:
                client.get(path, headers=auth).raise_for_status()

            get()
            ms = timed(get, args.requests)
            print(line(name, ms))
            if statistics.median(ms) >= TARGET_MS:
                over.append(name)

    print("while answers arrive (50 new answers before each request, brought into the order by it)")
    for name, path in (
        ("review page", "/projects/1/review"),
        ("leaderboard API", "/api/v1/projects/1/leaderboard"),
    ):
        ms = []
        for salt in range(args.requests):
            with session_scope() as session:
                session.execute(
                    text(NEW_ANSWERS_SQL), {"n": 50, "salt": salt * 104729 + len(name) * 7, "tasks": tasks}
                )
            ms += timed(lambda path=path: client.get(path, headers=headers).raise_for_status(), 1)
        print(line(name, ms))
        if statistics.median(ms) >= TARGET_MS:
            over.append(f"{name} (answers arriving)")
    print(
        f"target: every page and list under {TARGET_MS:.0f} ms;",
        "all met" if not over else f"over: {', '.join(over)}",
    )


if __name__ == "__main__":
    main()
