"""Large uploads run as a Job on the default queue; progress and counts live on the Job row.

PostgreSQL: the rows and the job's final state commit in one transaction, so a worker that dies
mid-import leaves nothing behind and the redelivered message starts clean; progress and cancel go
through a second connection meanwhile.
SQLite has one writer at a time, and a long import transaction would stall every annotator. There
the file is checked whole first (nothing written), then written in batches that each commit with
the job's progress, letting other writers in between. The batches are written as "importing", which
no annotator is handed and no export reads, and the job's last transaction opens them all. Rows carry
the job's id: a cancel, or the retry after a crash, removes what the attempt wrote, so the outcome is
still all or nothing."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import get_engine, session_scope
from app.core.errors import ImportRejected
from app.imports.service import IMPORTING, ImportResult, import_rows, record_import, validate_file
from app.imports.shapes import parse_mapping
from app.imports.sources import rows_of
from app.jobs.runtime import ENDED, RunningJob, append_log, create_job, record_progress, run_job
from app.models import Job, Project, Task, User

TASK_NAME = "import.tasks"


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


def _remove_rows_of(session: Session, job_id: int, project_id: int) -> int:
    """What this job's earlier attempts wrote, and what ended imports of the project left behind (their
    jobs failed once their worker died for the last time, with nobody left to clean up)."""
    ended = select(Job.id).where(Job.project_id == project_id, Job.of_kind("import"), Job.status.in_(ENDED))
    stmt = delete(Task).where(
        Task.project_id == project_id,
        or_(
            and_(Task.import_job_id == job_id, Task.annotation_count == 0),
            and_(Task.status == IMPORTING, Task.import_job_id.in_(ended)),
        ),
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _open_rows_of(session: Session, job_id: int) -> None:
    """SQLite: the batches were written unseen; the job's last transaction opens them all."""
    session.execute(
        update(Task).where(Task.import_job_id == job_id, Task.status == IMPORTING).values(status="open")
    )


def run_import_job(job_id: int) -> str:
    """Run an import job; returns its final status. Safe to deliver twice."""
    with run_job(
        job_id,
        "import",
        failure="the import stopped: {error}; nothing was imported, upload again",
        cancelled="cancelled; nothing was imported",
    ) as run:
        if run is None:
            return "skipped"
        params, project_id = run.params, run.project_id
        run.log(f"attempt {run.attempts}: importing {params['filename']}")
        assert project_id is not None
        path, filename = Path(params["path"]), params["filename"]
        mapping = parse_mapping(params.get("mapping"))
        if not path.exists():
            return run.fail(f"the uploaded file is gone ({path.name}); upload it again", log="file missing")
        sqlite = get_engine().dialect.name == "sqlite"
        size = max(path.stat().st_size, 1)

        def settle(session: Session, job: Job) -> None:
            if job.status == "succeeded":
                return
            if sqlite:  # batches committed as they went: take them back out
                _remove_rows_of(session, job_id, project_id)
            if job.status != "queued":  # a retry reads the file again
                path.unlink(missing_ok=True)

        run.settle = settle
        total_rows = 0
        if sqlite:
            report = validate_file(
                path,
                filename=filename,
                mapping=mapping,
                on_progress=lambda f: run.progress(0.5 * f, "checking rows"),
            )
            if report.error_count:
                return _reject(run, ImportRejected(report.errors, report.error_count))
            total_rows = max(report.rows, 1)
            with session_scope() as session:
                removed = _remove_rows_of(session, job_id, project_id)  # an earlier attempt that crashed
                if removed:
                    append_log(
                        session.get_one(Job, job_id), f"removed {removed} rows of an interrupted attempt"
                    )

        try:
            with (
                path.open("rb") as fh,
                rows_of(fh, filename=filename, urls="fetch") as (rows, images),
                session_scope() as session,
            ):

                def on_batch(result: ImportResult) -> None:
                    if sqlite:  # commit this batch with its progress, then look for a cancel
                        record_progress(
                            session.get_one(Job, job_id),
                            0.5 + 0.5 * min(result.rows / total_rows, 0.99),
                            f"{result.rows:,} of {total_rows:,} rows written",
                        )
                        session.commit()
                        run.check_cancel()  # a read that takes no write lock
                    else:
                        run.progress(fh.tell() / size, f"{result.rows:,} rows")

                result = import_rows(
                    session,
                    project_id=project_id,
                    raw_rows=rows,
                    mapping=mapping,
                    job_id=job_id,
                    on_batch=on_batch,
                    status=IMPORTING if sqlite else "open",
                    images=images,
                )
                if sqlite:
                    _open_rows_of(session, job_id)
                run.finish_in(
                    session,
                    "succeeded",
                    result={
                        "imported": result.imported,
                        "duplicates": result.duplicates,
                        "rows": result.rows,
                    },
                    log=f"imported {result.imported}, duplicates {result.duplicates}",
                )
                record_import(
                    session,
                    result,
                    project_id=project_id,
                    actor_id=run.created_by_id,
                    source=filename,
                    target=("job", job_id),
                )
        except ImportRejected as exc:
            return _reject(run, exc)
        path.unlink(missing_ok=True)
    return run.status


def _reject(run: RunningJob, exc: ImportRejected) -> str:
    return run.fail(
        exc.message,
        log=f"{exc.total_errors} bad rows; nothing imported",
        result={"errors": exc.errors, "error_count": exc.total_errors},
    )
