"""The export Job: fills one snapshot. Safe to deliver twice: a ready snapshot is left alone, and an
attempt that crashed halfway leaves only a temporary directory that the next attempt removes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from app.core.db import get_engine, session_scope
from app.exports.service import Progress, export_snapshot
from app.jobs.runtime import append_log, run_job
from app.models import Job, Project, Snapshot, User

PROGRESS_EVERY_S = 0.5


def _snapshot_follows(session: Session, snapshot_id: int, job: Job) -> None:
    """The snapshot's status is its job's, in the transaction that ends (or requeues) the job."""
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is not None and snapshot.status != "ready":
        snapshot.status = {"succeeded": "ready"}.get(job.status, job.status)


def run_export_job(job_id: int) -> str:
    """Run an export job; returns its final status."""
    with run_job(
        job_id, "export", failure="the export stopped: {error}", cancelled="cancelled; no files kept"
    ) as run:
        if run is None:  # finished, or cancelled before it ran: the snapshot follows the job
            with session_scope() as session:
                finished = session.get_one(Job, job_id)
                snapshot = session.get(Snapshot, finished.params.get("snapshot_id"))
                if snapshot is not None and snapshot.status in ("queued", "running"):
                    _snapshot_follows(session, snapshot.id, finished)
            return "skipped"
        with session_scope() as session:
            snapshot = session.get_one(Snapshot, run.params["snapshot_id"])
            if snapshot.status == "ready":  # delivered again after it finished: never rewrite a snapshot
                run.finish_in(session, "succeeded")
                return "succeeded"
            snapshot.status = "running"
            project = session.get_one(Project, snapshot.project_id)
            creator = session.get(User, snapshot.created_by_id) if snapshot.created_by_id else None
            created_by = creator.email if creator else None
            append_log(
                session.get_one(Job, job_id),
                f"attempt {run.attempts}: snapshot v{snapshot.version} as {snapshot.format}",
            )
            session.expunge_all()
        snapshot_id = snapshot.id
        run.settle = lambda session, job: _snapshot_follows(session, snapshot_id, job)
        last = 0.0

        def on_progress(p: Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY_S and p.done < p.total:
                return
            last = now
            run.progress(p.done / max(p.total, 1), f"{p.done:,} of {p.total:,} tasks")

        with get_engine().connect() as conn:
            manifest = export_snapshot(
                conn, snapshot, project, created_by=created_by, on_progress=on_progress
            )
        counts = ", ".join(f"{k} {v:,}" for k, v in manifest["counts"].items())
        with session_scope() as session:
            session.get_one(Snapshot, snapshot_id).manifest = manifest
            run.finish_in(session, "succeeded", result=_summary(manifest), log=f"wrote {counts} rows")
    return run.status


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "snapshot_id": manifest["snapshot_id"],
        "version": manifest["version"],
        "counts": manifest["counts"],
        "dropped": manifest["dropped"],
    }
