"""bench/faults.py, scenario B: every kind of job with its worker killed -9, and with the broker killed and
started again empty. Jobs are created through the domains' own services, as the web creates them (the
row commits, the task is sent after the commit); the database says how each ended and what it wrote."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.faults_stack import Options, Row, Stack, WebTier, descendants, kill9, spawn, stop, wait_until

ENDED = ("succeeded", "failed", "cancelled")
STUB_LATENCY_MS = 100
STALL_S = 150.0  # longer than a worker takes to start again on a busy 2-core box


def train_extra() -> bool:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        return False
    return True


class JobWorker:
    """Where jobs run. PostgreSQL: a Celery worker process on both queues, killed -9 and started again as
    an orchestrator would. SQLite: `preflab serve`'s embedded worker, killed -9; serve starts another."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.proc: subprocess.Popen[bytes] | None = None
        self.serve = WebTier(stack) if stack.backend == "sqlite" else None
        self.started = 0

    def start(self) -> None:
        from app.cli import QUIET_WORKER, worker_command

        if self.serve is not None:
            self.serve.start()
        else:
            self.started += 1
            command = worker_command("default,gpu", "--pool", "solo", *QUIET_WORKER)
            self.proc = spawn(command, self.stack.env, self.stack.data / f"worker-{self.started}.log")
        assert wait_until(lambda: self.pid() is not None, 60), "no worker process"

    def pid(self) -> int | None:
        if self.serve is None:
            return self.proc.pid if self.proc is not None and self.proc.poll() is None else None
        assert self.serve.proc is not None
        for pid in descendants(self.serve.proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                if "celery" in " ".join(psutil.Process(pid).cmdline()):
                    return pid
        return None

    def kill(self) -> float:
        """kill -9 of the process running jobs; another is started (PostgreSQL) or serve starts one."""
        pid = self.pid()
        assert pid is not None
        kill9(pid)
        at = time.monotonic()
        if self.serve is None:
            assert self.proc is not None
            self.proc.wait()
            self.start()
        return at

    def pause(self) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)

    def stop(self) -> None:
        if self.serve is not None:
            self.serve.stop()
        stop(self.proc)


@dataclass
class Fixtures:
    """What the jobs run on: seeded once per back end."""

    admin_id: int
    project_id: int  # pairwise, every task annotated once: export, stats, ordering, scoring
    tasks: int
    prelabel_project_id: int
    prelabel_tasks: int
    import_rows: int
    import_file: Path
    snapshot_id: int | None = None  # preference rows for training
    base_model: Path | None = None
    reward_model_id: int | None = None
    training_steps: int = 0


def seed(stack: Stack, options: Options, stub_port: int, ml: bool) -> Fixtures:
    from app.core.db import session_scope
    from app.models import Role
    from tests import factories

    tasks = 300 if options.quick else 1000
    prelabel_tasks = 80 if options.quick else 200
    rows = 20_000 if options.quick else 60_000
    path = stack.data / "import.jsonl"
    with path.open("w") as out:
        for i in range(rows):
            row = {
                "external_id": f"row-{i}",
                "prompt": f"Question {i}: " + "context " * 20,
                "responses": [f"first answer {i}", f"second answer {i}"],
            }
            out.write(json.dumps(row) + "\n")
    with session_scope() as session:
        admin = factories.make_user(session, is_admin=True)
        annotator = factories.make_user(session)
        project = factories.make_project(session, lead=admin)
        factories.add_member(session, project, annotator, Role.annotator)
        for task in factories.make_tasks(session, project, tasks):
            factories.make_annotation(session, task, annotator)
        labelled = factories.make_project(
            session, kind="classification", lead=admin, settings={"labels": ["billing", "delivery", "other"]}
        )
        labelled.llm = {
            "base_url": f"http://127.0.0.1:{stub_port}/v1",
            "model": "stub",
            "api_key_env": "",
            "concurrency": 4,
        }
        factories.make_tasks(session, labelled, prelabel_tasks)
        fixtures = Fixtures(admin.id, project.id, tasks, labelled.id, prelabel_tasks, rows, path)
        if ml:
            fixtures.snapshot_id = factories.make_snapshot(session, project, admin).id
    if ml:
        fixtures.base_model, reward_model = build_models(stack.data / "models")
        fixtures.training_steps = 15 if options.quick else 30
        with session_scope() as session:
            model = factories.make_model(session, None, path=str(reward_model), name="rm-random")
            fixtures.reward_model_id = model.id
    return fixtures


def build_models(root: Path) -> tuple[Path, Path]:
    """The tiny base model, and a reward head on it that was never trained (scores are all scoring needs)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mlcore.tiny import build_tiny_model

    base = build_tiny_model(root / "tiny-base")
    reward = root / "rm-random"
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(reward)
    tokenizer.save_pretrained(reward)
    return base, reward


# ------------------------------------------------------------------------------------------ starting jobs


def start_job(kind: str, fx: Fixtures) -> int:
    """Create a job of this kind as the web would; returns its id once the row is committed."""
    from sqlalchemy import select

    from app.core.db import session_scope
    from app.models import Job, Project, User
    from tests import factories

    with session_scope() as session:
        admin = session.get_one(User, fx.admin_id)
        project = session.get_one(Project, fx.project_id)
        if kind == "import":
            from app.imports.job import start_import_job, store_upload

            target = factories.make_project(session, lead=admin)
            with fx.import_file.open("rb") as upload:
                path = store_upload(upload)
            job = start_import_job(
                session, project=target, user=admin, path=path, filename="rows.jsonl", mapping=None
            )
        elif kind == "export":
            from app.exports.schemas import ExportRequest
            from app.exports.service import create_snapshot

            request = ExportRequest.model_validate({"format": "preference", "split": {"test": 0}})
            snapshot = create_snapshot(session, project=project, user=admin, request=request, queue=True)
            session.flush()
            job = session.get_one(Job, snapshot.job_id)
        elif kind == "prelabel":
            from app.prelabel.schemas import PrelabelRequest
            from app.prelabel.service import start_prelabel_job

            request = PrelabelRequest.model_validate(
                {"mode": "label", "use_cache": False, "filter": {"only_missing": False}}
            )
            labelled = session.get_one(Project, fx.prelabel_project_id)
            job = start_prelabel_job(session, project=labelled, user=admin, request=request)[0]
        elif kind == "stats":
            from app.quality.stats import request_refresh

            request_refresh(session, project)
            session.flush()
            job = session.scalars(
                select(Job).where(Job.project_id == project.id, Job.of_kind("stats")).order_by(Job.id.desc())
            ).first()
            assert job is not None and job.status == "queued", "a stats job was still pending"
        elif kind == "ordering":
            from app.projects.service import request_reorder

            job = request_reorder(session, project, user=admin)
        elif kind == "scoring":
            from app.loop.scoring import ScoringRequest, start_scoring

            request = ScoringRequest.model_validate({"model_id": fx.reward_model_id})
            job = start_scoring(session, project=project, user=admin, request=request)[0]
        else:
            from app.training.schemas import TrainingRequest
            from app.training.service import start_training

            request = TrainingRequest.model_validate(
                {
                    "snapshot_id": fx.snapshot_id,
                    "method": "reward",
                    "base_model": str(fx.base_model),
                    "params": {
                        "max_steps": fx.training_steps,
                        "per_device_train_batch_size": 4,
                        "max_length": 64,
                    },
                }
            )
            job = start_training(session, request=request, user=admin)
        return int(job.id)


# ------------------------------------------------------------------------------------------ watching jobs


@dataclass
class Watched:
    kind: str
    fault: str
    job_id: int
    fault_at: float = 0.0
    ended_at: float | None = None
    status: str = "queued"
    attempts: int = 0
    error: str | None = None
    lost: int = 0
    duplicated: int = 0
    served_early: int = 0  # imports: rows handed out (open) before the job ended
    check: str = ""
    log_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def recovery_s(self) -> float | None:
        if self.ended_at is None or not self.fault_at:
            return None
        return max(0.0, self.ended_at - self.fault_at)


def job_state(job_id: int) -> tuple[str, int, str | None, int | None, tuple[Any, ...]]:
    """Status, attempts, error, project, and what changes while something works on the job."""
    from app.core.db import session_scope
    from app.models import Job

    with session_scope() as session:
        job = session.get_one(Job, job_id)
        moving = (job.status, job.attempts, job.heartbeat_at, job.progress)
        return job.status, job.attempts, job.error, job.project_id, moving


def open_rows(project_id: int) -> int:
    from sqlalchemy import func, select

    from app.core.db import session_scope
    from app.models import Task

    with session_scope() as session:
        return int(
            session.scalar(select(func.count()).where(Task.project_id == project_id, Task.status == "open"))
            or 0
        )


def watch(jobs: list[Watched], deadline: float) -> None:
    """Poll until every job ended. A job is stuck when it has not ended and nothing moved any of them (a
    status, an attempt, a heartbeat, progress; a send again is not a move) for STALL_S, or at the
    deadline: slow is not stuck on a box this busy, idle is. Imports are checked for rows served before
    their end."""
    seen: dict[int, tuple[Any, ...]] = {}
    moved_at = time.monotonic()
    while time.monotonic() < min(deadline, moved_at + STALL_S):
        waiting = [w for w in jobs if w.ended_at is None]
        if not waiting:
            return
        for w in waiting:
            w.status, w.attempts, w.error, project_id, moving = job_state(w.job_id)
            if seen.get(w.job_id) != moving:
                seen[w.job_id], moved_at = moving, time.monotonic()
            if w.status in ENDED:
                w.ended_at = time.monotonic()
            elif w.kind == "import" and project_id is not None:
                w.served_early = max(w.served_early, open_rows(project_id))
        time.sleep(0.2)
    for w in jobs:
        if w.ended_at is None:
            w.log_tail = job_log(w.job_id)


def job_log(job_id: int) -> str:
    from app.core.db import session_scope
    from app.models import Job

    with session_scope() as session:
        job = session.get_one(Job, job_id)
        lines = job.log.strip().splitlines()[-3:]
        return f"sent {job.dispatches} times, last log: " + " | ".join(lines)


def wait_status(job_id: int, wanted: tuple[str, ...], timeout: float) -> str:
    status = "queued"

    def reached() -> bool:
        nonlocal status
        status = job_state(job_id)[0]
        return status in wanted

    wait_until(reached, timeout, every=0.05)
    return status


def check(w: Watched, fx: Fixtures) -> None:
    """What the job left: every row once (import, pre-label, scoring), one ready snapshot (export), at
    most one model (training)."""
    from sqlalchemy import func, select

    from app.core.db import session_scope
    from app.models import Job, Snapshot, Suggestion, Task, TrainedModel

    with session_scope() as session:
        job = session.get_one(Job, w.job_id)
        ok = job.status == "succeeded"
        if w.kind == "import":
            q = select(func.count(), func.count(func.distinct(Task.external_id))).where(
                Task.project_id == job.project_id
            )
            total, distinct = session.execute(q).one()
            importing = session.scalar(
                select(func.count()).where(Task.project_id == job.project_id, Task.status == "importing")
            )
            w.lost = fx.import_rows - distinct if ok else 0
            w.duplicated = total - distinct
            w.check = (
                f"{distinct:,} of {fx.import_rows:,} rows, {total - distinct} twice, {importing} unopened"
            )
            if not ok and total:
                w.lost, w.check = 0, f"{total:,} rows left behind by an import that {job.status}"
                w.duplicated = total  # half an import is worse than a duplicate: counted as one
        elif w.kind in ("prelabel", "scoring"):
            q = select(func.count(), func.count(func.distinct(Suggestion.task_id))).where(
                Suggestion.job_id == w.job_id, Suggestion.error.is_(None)
            )
            total, distinct = session.execute(q).one()
            expected = fx.prelabel_tasks if w.kind == "prelabel" else fx.tasks
            w.lost = expected - distinct if ok else 0
            w.duplicated = total - distinct
            w.check = f"{distinct} of {expected} tasks, {total - distinct} twice"
        elif w.kind == "export":
            snapshots = session.scalars(select(Snapshot).where(Snapshot.job_id == w.job_id)).all()
            rows = sum(s.manifest.get("counts", {}).get("train", 0) for s in snapshots if s.status == "ready")
            w.lost = fx.tasks - rows if ok else 0
            w.duplicated = max(0, len(snapshots) - 1)
            w.check = f"{len(snapshots)} snapshot, {rows} of {fx.tasks} rows"
        elif w.kind == "training":
            models = session.scalar(select(func.count()).where(TrainedModel.job_id == w.job_id)) or 0
            w.duplicated = max(0, models - 1)
            w.lost = 1 if ok and not models else 0
            w.check = f"{models} model"


# ------------------------------------------------------------------------------------------ the rounds


def worker_kills(kinds: list[str], fx: Fixtures, worker: JobWorker, stuck_after: float) -> list[Watched]:
    """One kind at a time: its worker killed -9 while it runs. A job that ends before it can be caught
    running is run again with the worker stopped (SIGSTOP) once it holds the message, then killed: the
    message is gone with the worker, and the job was never claimed."""
    out = []
    into = {"import": 0.3, "prelabel": 1.0, "training": 2.0, "scoring": 1.0}
    for kind in kinds:
        w = Watched(kind, "worker kill -9 mid-job", start_job(kind, fx))
        if wait_status(w.job_id, ("running", *ENDED), 120) == "running":
            time.sleep(into.get(kind, 0.0))
        if job_state(w.job_id)[0] == "running":
            w.fault_at = worker.kill()
        else:
            watch([w], time.monotonic() + stuck_after)
            check(w, fx)
            w.fault = "ended before the kill"
            out.append(w)
            worker.pause()
            time.sleep(0.5)
            w = Watched(kind, "worker kill -9 holding the message, unclaimed", start_job(kind, fx))
            time.sleep(1.5)
            w.fault_at = worker.kill()
        watch([w], w.fault_at + stuck_after)
        check(w, fx)
        out.append(w)
        print(f"  {describe(w)}", flush=True)
    return out


def broker_restart(kinds: list[str], fx: Fixtures, stack: Stack, stuck_after: float) -> list[Watched]:
    """Every kind queued at once; Redis killed while the first runs (its queued messages die with it), a
    job created while it is down, Redis started again empty."""
    jobs = [Watched(kind, "redis restart", start_job(kind, fx)) for kind in kinds]
    wait_status(jobs[0].job_id, ("running", *ENDED), 120)
    time.sleep(1.0)
    down_at = stack.redis.kill()
    try:
        during = Watched("export", "created while redis was down", start_job("export", fx))
        jobs.append(during)
    except Exception as exc:
        print(f"  creating a job while redis was down failed: {type(exc).__name__}: {exc}", flush=True)
    time.sleep(3.0)
    up_at = stack.redis.start()
    for w in jobs:
        w.fault_at = up_at
    watch(jobs, up_at + stuck_after)
    for w in jobs:
        check(w, fx)
        print(f"  {describe(w)}", flush=True)
    jobs[0].extra["down_s"] = up_at - down_at
    return jobs


def describe(w: Watched) -> str:
    took = (
        f"not ended; {w.log_tail}"
        if w.ended_at is None
        else ("" if w.recovery_s is None else f"{w.recovery_s:.1f} s after the fault")
    )
    error = f" ({w.error[:80]})" if w.error and w.status != "succeeded" else ""
    early = f"; {w.served_early} rows served before it ended" if w.served_early else ""
    return (
        f"{w.kind:<9} {w.fault}: {w.status}{error}, {w.attempts} attempts{', ' + took if took else ''}"
        f"{'; ' + w.check if w.check else ''}{early}"
    )


def summarize(stack: Stack, scenario: str, jobs: list[Watched]) -> Row:
    caught = [w for w in jobs if w.fault != "ended before the kill"]
    row = Row(
        backend=stack.backend,
        scenario=scenario,
        operations=len(jobs),
        acknowledged=len(jobs),
        stored=sum(w.status == "succeeded" for w in jobs),
        lost=sum(w.lost for w in jobs),
        duplicated=sum(w.duplicated for w in jobs),
        stuck=sum(w.ended_at is None for w in jobs),
        recovery_s=[w.recovery_s for w in caught if w.recovery_s is not None],
    )
    row.notes += [describe(w) for w in jobs]
    row.problems += [
        f"import job {w.job_id}: {w.served_early} rows served before it ended" for w in jobs if w.served_early
    ]
    return row


def job_scenarios(stack: Stack, options: Options) -> list[Row]:
    from bench.queue import free_port

    ml = train_extra()
    kinds = ["import", "export", "prelabel", "stats", "ordering"] + (["scoring", "training"] if ml else [])
    stuck_after = 600.0
    stub_port = free_port()
    stub = spawn(
        [
            sys.executable,
            "-m",
            "app.web.llm_stub",
            "--port",
            str(stub_port),
            "--latency-ms",
            str(STUB_LATENCY_MS),
        ],
        stack.env,
        stack.data / "stub.log",
    )
    worker = JobWorker(stack)
    try:
        fx = seed(stack, options, stub_port, ml)
        without = "" if ml else "; the train extra does not import: no scoring or training"
        print(
            f"{stack.backend}: jobs ({', '.join(kinds)}){without}; a job counts as stuck when"
            f" nothing moves it for {STALL_S:.0f} s, or it has not ended {stuck_after:.0f} s after its fault",
            flush=True,
        )
        worker.start()
        kills = worker_kills(kinds, fx, worker, stuck_after)
        broker = broker_restart(kinds, fx, stack, stuck_after)
    finally:
        worker.stop()
        stop(stub)
    rows = [summarize(stack, "jobs, worker kill -9", kills), summarize(stack, "jobs, redis restart", broker)]
    if not ml:
        rows[0].notes.append("the train extra does not import: no scoring or training jobs")
    return rows
