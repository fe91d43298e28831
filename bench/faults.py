"""Reliability under faults (issue 18): what kill -9, dropped database connections and a broker restarted
without persistence do to acknowledged work, on a throwaway database and a Redis of the bench's own.

A. Annotation loop: K annotators per project (overlap 1 and overlap 3, both at once) loop next -> submit
   over HTTP, each submit under a client-made UUID retried until it is acknowledged (2xx). Meanwhile:
   PostgreSQL: kill -9 of a uvicorn worker, `pg_terminate_backend` of every connection to the database,
   kill -9 of the whole web tier (then started again); SQLite: kill -9 of `preflab serve` (then started
   again; its worker must end with it). Counted from the database: stored, lost (acknowledged, not
   stored), duplicated (a UUID or a user+task twice), over-overlap (a task with more answers than its
   overlap), counters (tasks.annotation_count against the rows); recovery: from a fault to the next 2xx.
B. Jobs: every kind (import, export, prelabel against the local OpenAI stub, stats, ordering; scoring and
   training on the tiny model when the train extra imports). Each kind once with its worker killed -9
   mid-job (a job too quick to catch running: with the worker stopped holding its message, then killed),
   and all kinds at once with Redis killed and started again empty meanwhile (one job created while it is
   down). Per job: how it ended, the time from the fault to its end, stuck (not ended in time), and that
   its rows exist exactly once (imports: every row once, none served before the job ended).
C. Overload: bench/overload.py (200 clients, no think time) when that file is present (PostgreSQL).

    .venv/bin/python bench/faults.py                    # both back ends, 60 s of annotation faults each
    .venv/bin/python bench/faults.py --quick --backend sqlite

Exits non-zero when any lost, duplicated or stuck count is not 0. Jobs run with a short lease (the
settings in BENCH_SETTINGS, printed) so that recovery takes seconds, not the production minutes."""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faults_stack import BENCH_SETTINGS, Options, RedisServer, Row, Stack  # noqa: E402

# --------------------------------------------------------------------------------------------- report


def fmt_recovery(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} / {max(values):.1f}"


def print_table(rows: list[Row]) -> None:
    head = (
        "backend",
        "scenario",
        "operations",
        "acknowledged",
        "stored",
        "lost",
        "duplicated",
        "over-overlap",
        "stuck jobs",
        "recovery s (median / max)",
    )
    cells = [
        (
            r.backend,
            r.scenario,
            r.operations,
            r.acknowledged,
            *("-" if v is None else v for v in (r.stored, r.lost, r.duplicated, r.over_overlap, r.stuck)),
            fmt_recovery(r.recovery_s),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(head, *cells, strict=True)]
    for line in (head, *cells):
        print(
            "  ".join(
                f"{c!s:<{w}}" if i < 2 else f"{c!s:>{w}}"
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    for r in rows:
        for note in r.notes:
            print(f"  {r.backend} / {r.scenario}: {note}")
        for problem in r.problems:
            print(f"  {r.backend} / {r.scenario}: PROBLEM: {problem}")


# --------------------------------------------------------------------------------------------- stages


def run_backend(backend: str, options: Options) -> list[Row]:
    """Every scenario on one back end, in a fresh process (the app caches its settings and engine)."""
    from bench.faults_jobs import job_scenarios
    from bench.faults_loop import annotation_scenario

    stack = Stack.create(backend)
    try:
        rows = annotation_scenario(stack, options)
        for r in rows:
            print(
                f"  {r.scenario}: {r.operations} submits, {r.acknowledged} acknowledged, {r.stored} stored,"
                f" {r.lost} lost, {r.duplicated} duplicated, {r.over_overlap} over the overlap",
                flush=True,
            )
        rows += job_scenarios(stack, options)
        return rows
    finally:
        stack.drop()


OVERLOAD_RECOVERY_S = 10.0  # issue 18: the server answers again within 10 s of the load stopping


def overload_stage(quick: bool) -> list[Row]:
    """bench/overload.py as it is (its own bench and throwaway database), with a Redis of this bench's;
    its figures (the JSON it prints last) make a row: stalls (client timeouts) and a recovery over 10 s
    are problems."""
    script = ROOT / "bench" / "overload.py"
    if not script.exists():
        print("overload: bench/overload.py not present")
        return []
    data = Path(tempfile.mkdtemp(prefix="preflab-faults-overload-"))
    redis = RedisServer(data / "redis.log")
    redis.start()
    try:
        helptext = subprocess.run(
            [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout
        command = [sys.executable, str(script)]
        if "--redis" in helptext:
            command += ["--redis", redis.url]
        if quick and "--seconds" in helptext:
            command += ["--seconds", "10"]
        print(f"overload: {' '.join(command[1:])}", flush=True)
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "PREFLAB_BROKER_URL": redis.url},
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        redis.stop()
        shutil.rmtree(data, ignore_errors=True)
    print(done.stdout, end="", flush=True)
    lines = done.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else {}
    except ValueError:
        figures = {}
    after = figures.get("request_after_stop_s")
    row = Row(
        "postgresql",
        "overload (bench/overload.py)",
        int(figures.get("requests", 0)),
        int(figures.get("2xx", 0)),
        None,
        None,
        None,
        recovery_s=[float(after)] if after is not None else [],
    )
    row.notes.append(
        ", ".join(
            f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}"
            for k, v in figures.items()
            if k not in ("requests", "2xx")
        )
    )
    if done.returncode or not figures:
        row.problems.append(f"bench/overload.py exited {done.returncode} (figures: {bool(figures)})")
    if figures.get("timeouts"):
        row.problems.append(f"{figures['timeouts']} client timeouts: the server stalled instead of a 503")
    if after is not None and float(after) > OVERLOAD_RECOVERY_S:
        row.problems.append(f"a request answered {after:.1f} s after the load stopped (over 10 s)")
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller jobs")
    parser.add_argument("--seconds", type=float, default=None, help="annotation loop under faults (60; 20)")
    parser.add_argument("--annotators", type=int, default=16, help="per project (two projects at once)")
    parser.add_argument("--tasks", type=int, default=None, help="tasks per project (5000; 1500)")
    parser.add_argument("--no-overload", action="store_true", help="skip bench/overload.py")
    args = parser.parse_args()
    options = Options(
        seconds=args.seconds or (20.0 if args.quick else 60.0),
        quick=args.quick,
        annotators=args.annotators,
        tasks=args.tasks or (1500 if args.quick else 5000),
    )
    print("job settings: " + ", ".join(f"{k}={v}" for k, v in BENCH_SETTINGS.items()), flush=True)
    load_before = os.getloadavg()[1]
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    rows: list[Row] = []
    started = time.monotonic()
    spawn_ctx = multiprocessing.get_context("spawn")
    for backend in backends:
        with ProcessPoolExecutor(1, mp_context=spawn_ctx) as pool:
            try:
                rows += pool.submit(run_backend, backend, options).result()
            except Exception as exc:  # the other back end still runs; the report says what broke
                traceback.print_exc()
                rows.append(Row(backend, "(the bench itself)", 0, 0, 0, 0, 0, problems=[repr(exc)[:300]]))
    if not args.no_overload and "postgresql" in backends:
        rows += overload_stage(args.quick)
    print()
    print_table(rows)
    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[1]:.1f} at the end"
    print(f"\n{time.monotonic() - started:.0f} s in all on {os.cpu_count()} CPUs ({load}, 5-minute means)")
    bad = [f"{r.backend} / {r.scenario}" for r in rows if r.failed]
    if bad:
        print("FAILED: " + ", ".join(bad))
        sys.exit(1)
    print("every lost, duplicated, over-overlap and stuck count is 0")


if __name__ == "__main__":
    main()
