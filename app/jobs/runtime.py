"""The one job runtime: every kind of background work (import, export, prelabel, training, scoring, ordering,
stats) is a Job row that goes `queued → running → succeeded | failed | cancelled` through these functions.

The web creates a job (its task is sent after the commit; the row is an outbox that app/jobs/outbox.py
sends again while nothing claims it), requests a cancel, and reads it. A running job holds a lease: its
worker beats the heartbeat from a thread, and a job whose worker stopped beating is recovered (sent
again, or ended) by the outbox, whatever its kind. A worker runs it inside `run_job`, which
claims it, hands the runner a `RunningJob` and turns however the runner stops into the job's end:
a requested cancel into "cancelled", the runner's own errors into "failed" at once, and transient errors
(the database or the broker away for a moment) into a retry: the job goes back to "queued" and the
exception reaches Celery, which sends the task again after the delay RETRY says. Runners are idempotent,
so an attempt that stopped halfway is simply run again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import get_engine, session_scope
from app.core.errors import PreflabError
from app.core.queue import enqueue_after_commit
from app.models import Job, JobMetric, utcnow

log = logging.getLogger(__name__)

ENDED = ("succeeded", "failed", "cancelled")

# Errors that say nothing about the job: the same attempt a little later would go through.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # connection refused or lost, SQLite "database is locked", deadlocks
    sqlalchemy.exc.InterfaceError,  # a pooled connection that the server closed
    sqlalchemy.exc.TimeoutError,  # no pooled connection free in time
    kombu.exceptions.OperationalError,  # the broker is unreachable
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """When a job's task is sent again. workers/ turns this into the Celery options of every job task."""

    errors: tuple[type[BaseException], ...]
    max_retries: int
    backoff_s: int  # the first delay's ceiling; it doubles each retry, and the delay is drawn below it
    backoff_max_s: int


RETRY = RetryPolicy(errors=TRANSIENT_ERRORS, max_retries=5, backoff_s=10, backoff_max_s=300)


# ------------------------------------------------------------------------------------------ Job rows


def create_job(
    session: Session,
    *,
    kind: str,
    task_name: str,
    params: dict[str, Any],
    project_id: int | None,
    user_id: int | None,
    queue: str = "default",
) -> Job:
    """A queued job, committed with the caller's rows; its task goes to the broker after the commit. The
    row is the outbox: should that send fail (the broker is down) or the message be lost (a broker
    restarted without persistence), app/jobs/outbox.py sends it again until a worker claims the job."""
    job = Job(
        kind=kind,
        params=params,
        project_id=project_id,
        created_by_id=user_id,
        status="queued",
        task_name=task_name,
        queue=queue,
    )
    session.add(job)
    session.flush()
    send_job(session, job)
    return job


def send_job(session: Session, job: Job) -> None:
    """Send the job's task once the session commits, and note it; a failed send is noted as not sent."""
    assert job.task_name is not None
    job.dispatched_at = utcnow()
    job.dispatches += 1
    job_id = job.id
    enqueue_after_commit(
        session, job.task_name, args=[job_id], queue=job.queue, on_failure=lambda: _not_sent(job_id)
    )


def _not_sent(job_id: int) -> None:
    """The broker refused the send: clear the mark, so the next sweep sends it at once."""
    try:
        with session_scope() as session:
            session.execute(update(Job).where(Job.id == job_id).values(dispatched_at=None))
    except Exception as exc:  # the sweep still sends it, only later (when its grace has passed)
        log.warning("job %s: could not note the failed send: %s", job_id, exc)


def claim_job(session: Session, job_id: int, kind: str) -> Job | None:
    """Mark a queued (or interrupted) job running; None when it already ended or was cancelled, or is not a
    job of this kind (a message that outlived its job row must never run another job's id)."""
    return _claim(session, job_id, kind)[0]


def _claim(session: Session, job_id: int, kind: str) -> tuple[Job | None, bool]:
    """The claimed job, and whether an earlier attempt was interrupted (its worker died while running)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or not job.of_kind(kind) or job.status in ENDED:
        return None, False
    if job.cancel_requested:
        finish_job(job, "cancelled")
        return None, False
    if job.status == "running" and not is_stale(job):
        return None, False  # a live worker holds it: this is a second copy of its message
    interrupted = job.status == "running" or job.interrupted
    job.interrupted = False
    job.status = "running"
    job.attempts += 1
    now = utcnow()
    job.started_at = job.started_at or now
    job.heartbeat_at = now
    return job, interrupted


def beat(job: Job) -> None:
    job.heartbeat_at = utcnow()


def record_progress(job: Job, value: float, message: str) -> None:
    """How far a running job got (1.0 is for a job that succeeded); every report beats the heartbeat."""
    job.progress = min(max(value, 0.0), 0.99)
    job.progress_message = message[:200]
    beat(job)


def append_log(job: Job, line: str, *, keep: int = 20_000) -> None:
    stamp = utcnow().strftime("%H:%M:%S")
    job.log = (job.log + f"[{stamp}] {line}\n")[-keep:]


def finish_job(job: Job, status: str, *, error: str | None = None) -> None:
    job.status = status
    job.error = error
    job.finished_at = utcnow()
    if status == "succeeded":
        job.progress = 1.0


def request_cancel(session: Session, job: Job) -> Job:
    """A queued job, or a running one whose worker stopped, is cancelled at once (a message that comes
    later finds nothing to do); a running one is asked to stop, and its runner ends it at its next
    progress report."""
    if job.status == "queued" or is_stale(job):  # no worker holds it: nobody else would end it
        finish_job(job, "cancelled")
        append_log(job, "cancelled")
    elif job.status == "running":
        job.cancel_requested = True
    return job


def is_stale(job: Job) -> bool:
    """A running job whose worker stopped beating (it died, or lost the database for too long)."""
    if job.status != "running":
        return False
    last = job.heartbeat_at or job.started_at
    if last is None:
        return True  # marked running by hand (or by a release without heartbeats): no worker holds it
    return utcnow() - last > timedelta(seconds=get_settings().job_heartbeat_timeout_s)


def give_up(job_id: int, error: str) -> None:
    """The last word on a job whose task failed outside its runner (the worker's retries ran out)."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is not None and job.status not in ENDED:
            finish_job(job, "failed", error=error)
            append_log(job, f"failed: {error}")


# ------------------------------------------------------------------------------------------ running


class JobCancelled(Exception):
    """Raised at a progress report of a job whose cancel was requested (or that ended meanwhile)."""


Settle = Callable[[Session, Job], None]


@dataclass
class RunningJob:
    """A claimed job as its runner sees it. No session is held between steps: each call opens its own."""

    id: int
    kind: str
    params: dict[str, Any]
    project_id: int | None
    created_by_id: int | None
    attempts: int
    interrupted: bool  # an earlier attempt's worker died while it ran
    status: str = "running"
    # What the domain's own rows do when the job ends or goes back to the queue, in that transaction.
    settle: Settle | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def progress(self, value: float, message: str) -> None:
        """Record progress and beat; raises JobCancelled when the job should stop."""
        with session_scope() as session:
            job = session.get_one(Job, self.id)
            record_progress(job, value, message)
            stop = job.cancel_requested or job.status != "running"
        if stop:
            raise JobCancelled

    def beat(self) -> None:
        with session_scope() as session:
            beat(session.get_one(Job, self.id))

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Beat from a thread for as long as the job runs in this process (run_job holds it around every
        runner): the job's lease. A worker that dies stops beating, and the outbox's sweep recovers the
        job. On SQLite a beat waits for a runner's write transaction to commit, which is harmless."""
        stop = threading.Event()
        every = get_settings().job_heartbeat_timeout_s / 4

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.beat()
                except Exception as exc:  # a missed beat is not the step's failure
                    log.warning("job %s: heartbeat failed: %s", self.id, exc)

        thread = threading.Thread(target=loop, name=f"job-{self.id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def cancel_requested(self) -> bool:
        """Read without taking SQLite's write lock, for runners that write between their checks."""
        with get_engine().execution_options(sqlite_deferred=True).connect() as conn:
            return bool(conn.execute(select(Job.cancel_requested).where(Job.id == self.id)).scalar())

    def check_cancel(self) -> None:
        if self.cancel_requested():
            raise JobCancelled

    def log(self, line: str) -> None:
        with session_scope() as session:
            append_log(session.get_one(Job, self.id), line)

    def finish_in(
        self,
        session: Session,
        status: str,
        *,
        log: str | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        keep_progress: bool = False,
    ) -> Job:
        """End the job in the caller's transaction (with the rows the runner wrote); returns its row."""
        job = session.get_one(Job, self.id)
        if result is not None:
            job.result = result
        progress = job.progress
        finish_job(job, status, error=error)
        if keep_progress:  # stopped early on purpose (a budget): the job says how far it got
            job.progress = progress
        if log:
            append_log(job, log)
        if self.settle is not None:
            self.settle(session, job)
        self.status = status
        return job

    def finish(self, status: str, **how: Any) -> str:
        with session_scope() as session:
            self.finish_in(session, status, **how)
        return status

    def succeed(self, **how: Any) -> str:
        return self.finish("succeeded", **how)

    def fail(self, error: str, **how: Any) -> str:
        how.setdefault("log", f"failed: {error}")
        return self.finish("failed", error=error, **how)

    def cancel(self, *, log: str = "cancelled") -> str:
        return self.finish("cancelled", log=log)

    def _end(self, status: str, *, log: str, error: str | None = None) -> None:
        """End the job after the runner stopped, unless it already ended (failed as stale, or by a
        finishing transaction that committed before the error)."""
        with session_scope() as session:
            job = session.get_one(Job, self.id)
            if job.status not in ENDED:
                self.finish_in(session, status, log=log, error=error)
                return
            if self.settle is not None:
                self.settle(session, job)
            self.status = job.status

    def _release(self, exc: BaseException) -> None:
        """Back to the queue for the retry, so stale detection leaves it alone meanwhile. Best effort: the
        database may be what failed, and a job found running is claimed again all the same."""
        why = f"{type(exc).__name__}: {exc}"
        try:
            with session_scope() as session:
                job = session.get_one(Job, self.id)
                if job.status in ENDED:
                    return
                job.status = "queued"
                job.dispatched_at = utcnow()  # Celery sends it again: the outbox waits its grace first
                job.progress_message = f"waiting to retry after a transient error ({why})"[:200]
                append_log(job, f"attempt {self.attempts} stopped on a transient error, to be retried: {why}")
                if self.settle is not None:
                    self.settle(session, job)
        except Exception as again:
            log.warning("job %s: could not put it back in the queue: %s", self.id, again)


@contextmanager
def run_job(
    job_id: int, kind: str, *, failure: str = "the job stopped: {error}", cancelled: str = "cancelled"
) -> Iterator[RunningJob | None]:
    """Claim the job and run the body with it (None: nothing to do, the message is stale). The body ends
    the job itself (run.succeed/fail/cancel/finish_in) or leaves it to this: a normal exit succeeds, a
    JobCancelled cancels (log `cancelled`), a PreflabError fails with its message, a transient error
    puts the job back and re-raises for Celery's retry (or fails it once RETRY's attempts are spent), any
    other exception fails the job with `failure` (its `{error}` filled in)."""
    with session_scope() as session:
        job, interrupted = _claim(session, job_id, kind)
        run = None
        if job is not None:
            run = RunningJob(
                id=job.id,
                kind=job.kind,
                params=dict(job.params),
                project_id=job.project_id,
                created_by_id=job.created_by_id,
                attempts=job.attempts,
                interrupted=interrupted,
            )
    if run is None:
        yield None
        return
    try:
        with run.beating():  # the lease: beats while this process runs the job, and stops when it dies
            yield run
    except JobCancelled:
        run._end("cancelled", log=cancelled)
    except RETRY.errors as exc:
        if run.attempts <= RETRY.max_retries:
            run._release(exc)
            raise
        error = f"{failure.format(error=exc)} (gave up after {run.attempts} attempts)"
        run._end("failed", error=error, log=f"failed: {type(exc).__name__}, attempt {run.attempts}")
    except PreflabError as exc:
        run._end("failed", error=exc.message, log=f"failed: {exc.message}")
    except Exception as exc:
        run._end("failed", error=failure.format(error=exc), log=f"failed: {type(exc).__name__}")
    else:
        if not run.finished:
            run._end("succeeded", log="done")


def metrics_of(session: Session, job: Job) -> list[JobMetric]:
    """The job's metric time series, by step."""
    stmt = select(JobMetric).where(JobMetric.job_id == job.id).order_by(JobMetric.step, JobMetric.id)
    return list(session.scalars(stmt))
