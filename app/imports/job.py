"""Large uploads run as a Job on the default queue; progress and counts live on the Job row.

PostgreSQL: the rows and the job's final state commit in one transaction, so a worker that dies
mid-import leaves nothing behind and the redelivered message starts clean; progress and cancel go
through a second connection meanwhile.
SQLite has one writer at a time, and a long import transaction would stall every annotator. There
the file is checked whole first (nothing written), then written in batches that each commit with
the job's progress, letting other writers in between. Rows carry the job's id: a cancel, or the
retry after a crash, removes what the attempt wrote, so the outcome is still all or nothing."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import get_engine, session_scope
from app.core.errors import ImportRejected
from app.core.jobs import append_log, claim_job, create_job, finish_job
from app.imports.readers import read_rows
from app.imports.service import ImportResult, import_rows, record_import, validate_file
from app.imports.shapes import parse_mapping
from app.models import Job, Project, Task, User

TASK_NAME = "import.tasks"


class ImportCancelled(Exception):
    pass


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


def _set_progress(job_id: int, value: float, message: str) -> bool:
    """Record progress; returns whether a cancel was requested."""
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        job.progress = value
        job.progress_message = message
        return job.cancel_requested


def _cancel_requested(job_id: int) -> bool:
    with get_engine().execution_options(sqlite_deferred=True).connect() as conn:
        return bool(conn.execute(select(Job.cancel_requested).where(Job.id == job_id)).scalar())


def _remove_rows_of(session: Session, job_id: int) -> int:
    stmt = delete(Task).where(Task.import_job_id == job_id, Task.annotation_count == 0)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _finish(
    job_id: int, status: str, *, error: str | None = None, result: dict[str, Any] | None = None, log: str
) -> str:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        if result is not None:
            job.result = result
        finish_job(job, status, error=error)
        append_log(job, log)
    return status


def run_import_job(job_id: int) -> str:
    """Run an import job; returns its final status. Safe to deliver twice."""
    with session_scope() as session:
        job = claim_job(session, job_id, "import")
        if job is None:
            return "skipped"
        params: dict[str, Any] = dict(job.params)
        project_id = job.project_id
        append_log(job, f"attempt {job.attempts}: importing {params['filename']}")
    assert project_id is not None
    path, filename = Path(params["path"]), params["filename"]
    mapping = parse_mapping(params.get("mapping"))
    if not path.exists():
        return _finish(
            job_id,
            "failed",
            error=f"the uploaded file is gone ({path.name}); upload it again",
            log="file missing",
        )
    sqlite = get_engine().dialect.name == "sqlite"
    size = max(path.stat().st_size, 1)

    total_rows = 0
    if sqlite:
        report = validate_file(
            path,
            filename=filename,
            mapping=mapping,
            on_progress=lambda f: _set_progress(job_id, 0.5 * f, "checking rows"),
        )
        if report.error_count:
            return _reject(job_id, path, ImportRejected(report.errors, report.error_count))
        total_rows = max(report.rows, 1)
        with session_scope() as session:
            removed = _remove_rows_of(session, job_id)  # an earlier attempt that crashed
            if removed:
                append_log(session.get_one(Job, job_id), f"removed {removed} rows of an interrupted attempt")

    try:
        with path.open("rb") as fh, session_scope() as session:

            def on_batch(result: ImportResult) -> None:
                if sqlite:  # commit this batch with its progress, then look for a cancel
                    job = session.get_one(Job, job_id)
                    job.progress = 0.5 + 0.5 * min(result.rows / total_rows, 0.99)
                    job.progress_message = f"{result.rows:,} of {total_rows:,} rows written"
                    session.commit()
                    cancelled = _cancel_requested(job_id)  # a read that takes no write lock
                else:
                    cancelled = _set_progress(job_id, min(fh.tell() / size, 0.99), f"{result.rows:,} rows")
                if cancelled:
                    raise ImportCancelled

            result = import_rows(
                session,
                project_id=project_id,
                raw_rows=read_rows(fh, filename=filename),
                mapping=mapping,
                job_id=job_id,
                on_batch=on_batch,
            )
            job = session.get_one(Job, job_id)
            job.result = {"imported": result.imported, "duplicates": result.duplicates, "rows": result.rows}
            finish_job(job, "succeeded")
            append_log(job, f"imported {result.imported}, duplicates {result.duplicates}")
            record_import(
                session,
                result,
                project_id=project_id,
                actor_id=job.created_by_id,
                source=filename,
                target=("job", job_id),
            )
    except ImportRejected as exc:
        return _reject(job_id, path, exc)
    except ImportCancelled:
        _clean_up(job_id, path, sqlite=sqlite)
        return _finish(job_id, "cancelled", log="cancelled; nothing was imported")
    except Exception as exc:  # the database went away, a lock timed out…: fail clean, never stay "running"
        _clean_up(job_id, path, sqlite=sqlite)
        return _finish(
            job_id,
            "failed",
            error=f"the import stopped: {exc}; nothing was imported, upload again",
            log=f"failed: {type(exc).__name__}",
        )
    path.unlink(missing_ok=True)
    return "succeeded"


def _clean_up(job_id: int, path: Path, *, sqlite: bool) -> None:
    if sqlite:  # batches committed as they went: take them back out
        with session_scope() as session:
            _remove_rows_of(session, job_id)
    path.unlink(missing_ok=True)


def _reject(job_id: int, path: Path, exc: ImportRejected) -> str:
    path.unlink(missing_ok=True)
    return _finish(
        job_id,
        "failed",
        error=exc.message,
        log=f"{exc.total_errors} bad rows; nothing imported",
        result={"errors": exc.errors, "error_count": exc.total_errors},
    )
