"""Large uploads run as a Job on the default queue; progress and counters live on the Job row."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import ImportRejected
from app.core.jobs import append_log, claim_job, create_job, finish_job
from app.imports.service import TaskWriter, iter_valid_rows, validate_file
from app.imports.shapes import TaskRow, parse_mapping
from app.models import AuditEvent, Job, Project, Task, User, utcnow

TASK_NAME = "import.tasks"
VALIDATE_SHARE = 0.3  # of the progress bar: pass 1 is cheaper than writing


def store_upload(stream: BinaryIO) -> Path:
    path = get_settings().uploads_dir / f"{uuid.uuid4().hex}.upload"
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out, length=1024 * 1024)
    return path


def start_import_job(
    session: Session, *, project: Project, user: User, path: Path, filename: str, mapping: str | None
) -> Job:
    return create_job(
        session,
        kind="import",
        task_name=TASK_NAME,
        project_id=project.id,
        user_id=user.id,
        params={"path": str(path), "filename": filename, "mapping": mapping, "size": path.stat().st_size},
    )


def _progress(job_id: int, value: float, message: str) -> None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is not None:
            job.progress = value
            job.progress_message = message


def run_import_job(job_id: int) -> str:
    """Run (or resume) an import job; returns its final status. Safe to call twice."""
    with session_scope() as session:
        job = claim_job(session, job_id)
        if job is None:
            return "skipped"
        params: dict[str, Any] = dict(job.params)
        project_id = job.project_id
        done_rows = int(job.result.get("rows_done", 0))
        append_log(job, "resumed" if done_rows else "started")
    assert project_id is not None
    path, filename = Path(params["path"]), params["filename"]
    mapping = parse_mapping(params.get("mapping"))
    if not path.exists():
        return _fail(job_id, f"the uploaded file is gone ({path.name}); upload it again")

    if done_rows == 0:
        report = validate_file(
            path,
            filename=filename,
            mapping=mapping,
            on_progress=lambda f: _progress(job_id, f * VALIDATE_SHARE, "validating"),
        )
        if report.error_count:
            with session_scope() as session:
                job = session.get_one(Job, job_id)
                job.result = {"errors": report.errors, "error_count": report.error_count}
                finish_job(job, "failed", error=str(ImportRejected(report.errors, report.error_count)))
            path.unlink(missing_ok=True)
            return "failed"
        with session_scope() as session:
            job = session.get_one(Job, job_id)
            job.result = {**job.result, "rows_total": report.rows, "rows_done": 0, "imported": 0}
            append_log(job, f"validated {report.rows} rows")

    batch_size = get_settings().import_batch_size
    batch: list[TaskRow] = []
    skipped = 0
    for row in iter_valid_rows(path, filename=filename, mapping=mapping):
        if skipped < done_rows:  # written by an earlier, interrupted attempt
            skipped += 1
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            if _write_batch(job_id, project_id, batch) == "cancelled":
                return "cancelled"
            batch = []
    if batch and _write_batch(job_id, project_id, batch) == "cancelled":
        return "cancelled"

    with session_scope() as session:
        job = session.get_one(Job, job_id)
        result = dict(job.result)
        result["duplicates"] = int(result.get("rows_done", 0)) - int(result.get("imported", 0))
        job.result = result
        finish_job(job, "succeeded")
        append_log(job, f"imported {result['imported']}, duplicates {result['duplicates']}")
        session.add(
            AuditEvent(
                user_id=job.created_by_id,
                project_id=project_id,
                action="tasks.import",
                target_type="job",
                target_id=str(job_id),
                details={"imported": result["imported"], "file": filename},
            )
        )
    path.unlink(missing_ok=True)
    return "succeeded"


def _write_batch(job_id: int, project_id: int, batch: list[TaskRow]) -> str:
    """Write one batch and advance the job's counters in the same transaction."""
    with session_scope() as session:
        job = session.get_one(Job, job_id, with_for_update=True)
        if job.cancel_requested:
            # A cancelled import leaves nothing half-imported: its rows go (none has a label yet).
            removed = session.execute(
                delete(Task).where(Task.import_job_id == job_id, Task.annotation_count == 0)
            ).rowcount
            finish_job(job, "cancelled")
            append_log(job, f"cancelled; removed the {removed} rows it had written")
            return "cancelled"
        imported = TaskWriter(session, project_id=project_id, job_id=job_id).write(batch)
        result = dict(job.result)
        result["rows_done"] = int(result.get("rows_done", 0)) + len(batch)
        result["imported"] = int(result.get("imported", 0)) + imported
        total = max(int(result.get("rows_total", 1)), 1)
        job.result = result
        job.progress = VALIDATE_SHARE + (1 - VALIDATE_SHARE) * result["rows_done"] / total
        job.progress_message = f"{result['rows_done']:,} of {total:,} rows"
        job.heartbeat_at = utcnow()
    return "running"


def _fail(job_id: int, message: str) -> str:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        finish_job(job, "failed", error=message)
    return "failed"
