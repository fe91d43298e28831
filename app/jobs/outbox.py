"""The jobs table as an outbox, and the sweep that keeps every job moving.

A job is committed with the rows it belongs to and its task is sent after the commit (runtime.send_job).
Nothing committed depends on that one broker call: every worker runs `Sweeper`, which every
`job_sweep_interval_s`
- sends a queued job again when its send failed (the broker was down) or when nothing claimed it within
  its grace (`job_dispatch_grace_s`, doubling with each send: a message lost with a restarted broker, or
  left unacknowledged by a worker killed before it claimed);
- recovers a running job whose worker stopped beating (the lease in runtime.run_job lapsed): sent again
  to restart it (runners are idempotent; training fails readably on its own), or failed once it has used
  RETRY's attempts, or cancelled when a cancel was asked for.
A duplicate message is harmless: runtime.claim_job runs a job only when it is queued, or running with a
lapsed lease. The web applies the same recovery to a job it reads."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import session_scope
from app.jobs.runtime import RETRY, append_log, finish_job, is_stale, send_job
from app.models import Job, utcnow

log = logging.getLogger(__name__)

_MAX_DOUBLINGS = 6  # a queued job is sent at most every 64 graces once it has waited long
_BATCH = 500  # jobs looked at per sweep


@dataclass
class Swept:
    sent: int = 0  # queued jobs sent again
    restarted: int = 0  # running jobs whose worker stopped, sent again
    failed: int = 0  # ... that had used their attempts
    cancelled: int = 0  # ... or had a cancel requested

    @property
    def total(self) -> int:
        return self.sent + self.restarted + self.failed + self.cancelled


def send_is_due(job: Job, now: datetime) -> bool:
    """Whether a queued job's task should be sent (again)."""
    if job.task_name is None:
        return False
    if job.dispatched_at is None:
        return True
    grace = get_settings().job_dispatch_grace_s * 2 ** min(max(job.dispatches - 1, 0), _MAX_DOUBLINGS)
    return now - job.dispatched_at > timedelta(seconds=grace)


def recover_if_stale(session: Session, job: Job, swept: Swept | None = None) -> Job:
    """A running job whose worker stopped beating is restarted, failed or cancelled (see the module)."""
    if not is_stale(job):
        return job
    swept = swept if swept is not None else Swept()
    last = job.heartbeat_at or job.started_at
    if last is None:
        why = "no worker holds it: it never sent a heartbeat"
    else:
        silent = int((utcnow() - last).total_seconds())
        why = f"its worker stopped: no heartbeat for {silent} s (last at {last:%Y-%m-%d %H:%M:%S} UTC)"
    if job.cancel_requested:
        finish_job(job, "cancelled")
        append_log(job, f"cancelled ({why})")
        swept.cancelled += 1
    elif job.attempts > RETRY.max_retries or job.task_name is None:
        finish_job(job, "failed", error=f"{why}; gave up after {job.attempts} attempts")
        append_log(job, f"failed: {why}")
        swept.failed += 1
    else:
        job.status, job.interrupted = "queued", True
        job.progress_message = f"{why}; sent again"[:200]
        append_log(job, f"attempt {job.attempts}: {why}; sent again")
        send_job(session, job)
        swept.restarted += 1
    return job


def _silent_since(lapsed: datetime) -> ColumnElement[bool]:
    """Running rows whose last heartbeat is older than `lapsed`, or that never beat."""
    return or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < lapsed)


def sweep() -> Swept:
    """One pass over the jobs that have not ended. Several workers may sweep at once: on PostgreSQL each
    skips the rows another holds; a duplicate send would be harmless anyway."""
    swept = Swept()
    now = utcnow()
    lapsed = now - timedelta(seconds=get_settings().job_heartbeat_timeout_s)
    with session_scope() as session:
        stmt = (
            select(Job)
            .where(or_(Job.status == "queued", and_(Job.status == "running", _silent_since(lapsed))))
            .order_by(Job.id)
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
        for job in session.scalars(stmt):
            if job.status == "running":
                recover_if_stale(session, job, swept)
            elif job.cancel_requested:
                finish_job(job, "cancelled")
                append_log(job, "cancelled")
                swept.cancelled += 1
            elif send_is_due(job, now):
                append_log(job, "not claimed yet: sent again" if job.dispatches else "sent")
                send_job(session, job)
                swept.sent += 1
    if swept.total:
        log.info("job sweep: %s", swept)
    return swept


class Sweeper:
    """The sweep, every `job_sweep_interval_s`, in a daemon thread of a worker's main process."""

    def __init__(self, interval_s: float | None = None) -> None:
        self.interval_s = interval_s if interval_s is not None else get_settings().job_sweep_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="preflab-job-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _loop(self) -> None:
        while True:
            try:
                sweep()
            except Exception as exc:  # the database or broker away: the next pass tries again
                log.warning("job sweep failed: %s", exc)
            if self._stop.wait(self.interval_s):
                return
