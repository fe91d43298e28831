"""Enqueueing background work. Tasks are sent by name after the request's transaction commits, so a
worker never picks up a job id whose row it cannot see yet. The web tier never imports Celery tasks or
torch from workers/ (only the trainers' torch-free config dataclass, to check a run before queueing it)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.models import Job, utcnow

_PENDING = "preflab_pending_tasks"


@lru_cache
def celery_client() -> Celery:
    client = Celery("preflab-client", broker=get_settings().resolved_broker_url)
    client.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True)
    return client


def send_task(name: str, args: list[Any], queue: str) -> None:
    celery_client().send_task(name, args=args, queue=queue)


def enqueue_after_commit(session: Session, name: str, *, args: list[Any], queue: str = "default") -> None:
    session.info.setdefault(_PENDING, []).append((name, args, queue))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for name, args, queue in session.info.pop(_PENDING, []):
        send_task(name, args, queue)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
    job = Job(kind=kind, params=params, project_id=project_id, created_by_id=user_id, status="queued")
    session.add(job)
    session.flush()
    enqueue_after_commit(session, task_name, args=[job.id], queue=queue)
    return job


def claim_job(session: Session, job_id: int, kind: str) -> Job | None:
    """Mark a queued (or interrupted) job running; None when it already finished or was cancelled, or is
    not a job of this kind (a message that outlived its job row must never run another job's id)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.kind != kind or job.status in ("succeeded", "failed", "cancelled"):
        return None
    if job.cancel_requested:
        finish_job(job, "cancelled")
        return None
    job.status = "running"
    job.attempts += 1
    now = utcnow()
    job.started_at = job.started_at or now
    job.heartbeat_at = now
    return job


def finish_job(job: Job, status: str, *, error: str | None = None) -> None:
    job.status = status
    job.error = error
    job.finished_at = utcnow()
    if status == "succeeded":
        job.progress = 1.0


def append_log(job: Job, line: str, *, keep: int = 20_000) -> None:
    stamp = utcnow().strftime("%H:%M:%S")
    job.log = (job.log + f"[{stamp}] {line}\n")[-keep:]


HEARTBEAT_KINDS = {"training"}  # jobs whose runner beats a heartbeat while it works


def mark_if_stale(job: Job) -> Job:
    """A running job whose worker stopped beating is failed, so no job stays "running" forever."""
    if job.status != "running" or job.kind not in HEARTBEAT_KINDS or job.heartbeat_at is None:
        return job
    silent = utcnow() - job.heartbeat_at
    if silent > timedelta(seconds=get_settings().job_heartbeat_timeout_s):
        finish_job(
            job,
            "failed",
            error=f"its worker stopped: no heartbeat for {int(silent.total_seconds())} s "
            f"(last at {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)",
        )
    return job


def request_cancel(session: Session, job: Job) -> Job:
    if job.status == "queued":
        finish_job(job, "cancelled")
    elif job.status == "running":
        job.cancel_requested = True
    return job
