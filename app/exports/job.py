"""The export Job: fills one snapshot. Safe to deliver twice: a ready snapshot is left alone, and an
attempt that crashed halfway leaves only a temporary directory that the next attempt removes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from app.core.db import get_engine, session_scope
from app.core.jobs import append_log, claim_job, finish_job
from app.exports.service import ExportCancelled, Progress, export_snapshot
from app.models import Job, Project, Snapshot, User

PROGRESS_EVERY_S = 0.5


def _cancel_requested(job_id: int) -> bool:
    with get_engine().execution_options(sqlite_deferred=True).connect() as conn:
        return bool(conn.execute(select(Job.cancel_requested).where(Job.id == job_id)).scalar())


def _settle(
    job_id: int,
    snapshot_id: int,
    status: str,
    *,
    error: str | None = None,
    log: str,
    manifest: dict[str, Any] | None = None,
) -> str:
    """The job's and the snapshot's outcome, in one transaction."""
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        snapshot = session.get_one(Snapshot, snapshot_id)
        snapshot.status = {"succeeded": "ready"}.get(status, status)
        if manifest is not None:
            snapshot.manifest = manifest
            job.result = _summary(manifest)
        finish_job(job, status, error=error)
        append_log(job, log)
    return status


def run_export_job(job_id: int) -> str:
    """Run an export job; returns its final status."""
    with session_scope() as session:
        job = claim_job(session, job_id, "export")
        if job is None:  # finished, or cancelled before it ran: the snapshot follows the job
            finished = session.get_one(Job, job_id)
            snapshot = session.get(Snapshot, finished.params.get("snapshot_id"))
            if snapshot is not None and snapshot.status in ("queued", "running"):
                snapshot.status = {"succeeded": "ready"}.get(finished.status, finished.status)
            return "skipped"
        snapshot = session.get_one(Snapshot, job.params["snapshot_id"])
        if snapshot.status == "ready":  # delivered again after it finished: never rewrite a snapshot
            finish_job(job, "succeeded")
            return "succeeded"
        snapshot.status = "running"
        project = session.get_one(Project, snapshot.project_id)
        creator = session.get(User, snapshot.created_by_id) if snapshot.created_by_id else None
        created_by = creator.email if creator else None
        append_log(job, f"attempt {job.attempts}: snapshot v{snapshot.version} as {snapshot.format}")
        session.expunge_all()
    snapshot_id = snapshot.id
    last = 0.0

    def on_progress(p: Progress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_EVERY_S and p.done < p.total:
            return
        last = now
        with session_scope() as s:
            row = s.get_one(Job, job_id)
            row.progress = min(p.done / max(p.total, 1), 0.99)
            row.progress_message = f"{p.done:,} of {p.total:,} tasks"
        if _cancel_requested(job_id):
            raise ExportCancelled

    try:
        with get_engine().connect() as conn:
            manifest = export_snapshot(
                conn, snapshot, project, created_by=created_by, on_progress=on_progress
            )
    except ExportCancelled:
        return _settle(job_id, snapshot_id, "cancelled", log="cancelled; no files kept")
    except Exception as exc:
        return _settle(
            job_id,
            snapshot_id,
            "failed",
            error=f"the export stopped: {exc}",
            log=f"failed: {type(exc).__name__}",
        )
    counts = ", ".join(f"{k} {v:,}" for k, v in manifest["counts"].items())
    return _settle(job_id, snapshot_id, "succeeded", log=f"wrote {counts} rows", manifest=manifest)


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "snapshot_id": manifest["snapshot_id"],
        "version": manifest["version"],
        "counts": manifest["counts"],
        "dropped": manifest["dropped"],
    }
