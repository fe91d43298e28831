"""Export throughput and memory: a PostgreSQL project with 1,000,000 pairwise annotations (500k tasks, two
annotators each, realistic prompt and response lengths) exported as `preference`, in a child process whose
peak resident memory is read from the kernel (ru_maxrss) and sampled every 50 ms.

    .venv/bin/python bench/export.py                          # 1M annotations; majority and every-annotation
    .venv/bin/python bench/export.py --annotations 100000 --modes all --file-format parquet

Targets (issue 6): >= 20,000 rows/s and peak RSS < 300 MB."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "preflab_bench_export"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"

# Prompt ~250 characters, responses ~400: the sizes of typical chat preference data (HH-RLHF, UltraFeedback).
SEED_SQL = """
INSERT INTO users (email, name, password_hash, is_admin, is_active, created_at)
SELECT 'bench' || g || '@example.test', 'Bench ' || g, 'x', false, true, now() FROM generate_series(1, 3) g;
INSERT INTO projects (name, kind, instructions, settings, llm, is_private, created_at, updated_at)
VALUES ('Bench export', 'pairwise', '', '{"kind": "pairwise", "overlap": 2, "allow_ties": true,
  "strength_scale": ["a", "b", "c", "d"], "criteria": [], "rationale": "optional", "lease_minutes": 10,
  "show_suggestions": true, "gold_rate": 0.0}', '{}', false, now(), now());
INSERT INTO tasks (project_id, external_id, dedupe_key, prompt, responses, meta, priority, status,
                   annotation_count, reserved, created_at)
SELECT 1, 't' || g, 't' || g,
  to_jsonb('Question ' || g || ': ' || repeat('explain the difference between these two ideas ', 5)),
  jsonb_build_array(
    jsonb_build_object('id', 'a', 'model', 'model-a',
                       'text', 'Answer A ' || g || ' ' || repeat('a careful helpful response ', 15)),
    jsonb_build_object('id', 'b', 'model', 'model-b',
                       'text', 'Answer B ' || g || ' ' || repeat('another possible response ', 15))),
  '{}', 0, 'done', 2, 0, now()
FROM generate_series(1, :tasks) g;
INSERT INTO annotations (uuid, task_id, project_id, user_id, result, origin, status, updated_at, created_at)
SELECT md5(t.id::text || '-' || u), t.id, 1, u,
  jsonb_build_object('choice', CASE WHEN (t.id + u) % 5 = 0 THEN 'b' ELSE 'a' END,
                     'strength', (t.id % 4)::int),
  'human', 'submitted', now(), now()
FROM tasks t CROSS JOIN generate_series(1, 2) u;
"""


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def seed(annotations: int) -> float:
    import psycopg

    env = {**os.environ, "PREFLAB_DATABASE_URL": URL}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        for statement in SEED_SQL.replace(":tasks", str(annotations // 2)).split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.commit()
        conn.execute("ANALYZE")
    return time.perf_counter() - started


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def child(mode: str, file_format: str, data_dir: str) -> None:
    """Runs in its own process: one export, figures printed as JSON on the last line."""
    os.environ["PREFLAB_DATABASE_URL"] = URL
    os.environ["PREFLAB_DATA_DIR"] = data_dir
    from app.core.db import get_engine, session_scope
    from app.exports import service
    from app.exports.schemas import ExportRequest
    from app.models import Project

    request = ExportRequest.model_validate(
        {
            "format": "preference",
            "file_format": file_format,
            "aggregation": {"mode": mode},
            "split": {"test": 0.1},
        }
    )
    with session_scope() as session:
        project = session.get_one(Project, 1)
        snapshot = service.create_snapshot(session, project=project, user=None, request=request, queue=False)
        session.expunge_all()
    started = time.perf_counter()
    with get_engine().connect() as conn:
        manifest = service.export_snapshot(conn, snapshot, project, created_by="bench")
    elapsed = time.perf_counter() - started
    rows = sum(manifest["counts"].values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    size = sum(f["bytes"] for f in manifest["files"].values())
    used = manifest["annotations"]["used"]
    print(
        json.dumps({"rows": rows, "seconds": elapsed, "annotations": used, "peak_rss": peak, "bytes": size})
    )


def run(mode: str, file_format: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="preflab-bench-export-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", mode, "--file-format", file_format, "--data-dir", tmp],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        sampler = Sampler(proc.pid)
        sampler.start()
        out, _ = proc.communicate()
        sampler.done.set()
        if proc.returncode:
            raise SystemExit(f"export child failed ({proc.returncode})")
        figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
        figures["sampled_peak_rss"] = sampler.peak
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--modes", default="majority,all")
    parser.add_argument("--file-format", default="jsonl", choices=["jsonl", "parquet"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the database of the last run")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file_format, args.data_dir)
        return
    if not args.skip_seed:
        fresh_database()
        took = seed(args.annotations)
        print(f"seeded {args.annotations:,} annotations on {args.annotations // 2:,} tasks in {took:.1f} s")
    print(f"{'mode':<10} {'format':<8} {'rows':>10} {'annotations':>12} {'seconds':>8} {'rows/s':>9} "
          f"{'ann/s':>9} {'peak RSS':>9} {'MB out':>7}")  # fmt: skip
    for mode in args.modes.split(","):
        f = run(mode, args.file_format)
        peak = max(f["peak_rss"], f["sampled_peak_rss"]) / 2**20
        print(
            f"{mode:<10} {args.file_format:<8} {f['rows']:>10,.0f} {f['annotations']:>12,.0f} "
            f"{f['seconds']:>8.1f} "
            f"{f['rows'] / f['seconds']:>9,.0f} {f['annotations'] / f['seconds']:>9,.0f} {peak:>7.0f}MB "
            f"{f['bytes'] / 2**20:>7.0f}"
        )
    print("targets: >= 20,000 rows/s, peak RSS < 300 MB")


if __name__ == "__main__":
    main()
