from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.auth.deps import CurrentUser, ProjectAsLead, ProjectAsReviewer, SessionDep, TaskAsAnnotator
from app.core.config import get_settings
from app.core.errors import InvalidInput
from app.imports.job import start_import_job, store_upload
from app.imports.readers import read_rows
from app.imports.schemas import ImportAnswer, TaskRead
from app.imports.service import import_inline
from app.imports.shapes import RowError, parse_mapping
from app.models import AuditEvent, Task
from app.web.api.v1.pagination import Cursor, Limit, Page, next_cursor, parse_cursor

router = APIRouter(tags=["tasks"])

MapQuery = Query(None, alias="map", description="Label Studio data keys: prompt:question,responses:a|b")


def _mapping(spec: str | None) -> Any:
    try:
        return parse_mapping(spec)
    except (RowError, ValueError) as exc:
        raise InvalidInput(f"map: {exc}") from None


def _upload_size(file: UploadFile) -> int:
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    return size


@router.post(
    "/projects/{pid}/imports",
    status_code=201,
    response_model=ImportAnswer,
    responses={
        202: {"description": "a large file runs as a Job: {job_id}"},
        422: {"description": "bad rows: {errors: [{line, message}]}; nothing imported"},
    },
)
def import_file(
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    file: UploadFile = File(...),
    mapping: str | None = MapQuery,
) -> Any:
    settings = get_settings()
    parsed = _mapping(mapping)
    filename = file.filename or "upload.jsonl"
    size = _upload_size(file)
    if size > settings.max_upload_mb * 1024 * 1024:
        raise InvalidInput(f"the file is {size // 2**20} MB; the limit is {settings.max_upload_mb} MB")
    if size == 0:
        raise InvalidInput("the file is empty")
    if size > settings.import_inline_max_bytes:
        path = store_upload(file.file)
        job = start_import_job(
            session, project=project, user=user, path=path, filename=filename, mapping=mapping
        )
        return JSONResponse({"job_id": job.id}, status_code=202)
    result = import_inline(
        session, project=project, raw_rows=read_rows(file.file, filename=filename), mapping=parsed
    )
    session.add(
        AuditEvent(
            user_id=user.id,
            project_id=project.id,
            action="tasks.import",
            target_type="project",
            target_id=str(project.id),
            details={"imported": result.imported, "file": filename},
        )
    )
    return ImportAnswer(imported=result.imported, duplicates=result.duplicates)


@router.post(
    "/projects/{pid}/tasks",
    status_code=201,
    responses={422: {"description": "bad rows: {errors: [{line, message}]}; nothing imported"}},
)
def create_tasks(
    rows: list[Any],
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    mapping: str | None = MapQuery,
) -> ImportAnswer:
    result = import_inline(session, project=project, raw_rows=enumerate(rows, 1), mapping=_mapping(mapping))
    session.add(
        AuditEvent(
            user_id=user.id,
            project_id=project.id,
            action="tasks.import",
            target_type="project",
            target_id=str(project.id),
            details={"imported": result.imported, "rows": len(rows)},
        )
    )
    return ImportAnswer(imported=result.imported, duplicates=result.duplicates)


@router.get("/projects/{pid}/tasks")
def list_tasks(
    project: ProjectAsReviewer, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[TaskRead]:
    stmt = select(Task).where(Task.project_id == project.id).order_by(Task.id).limit(limit)
    if (after := parse_cursor(cursor)) is not None:
        stmt = stmt.where(Task.id > after)
    tasks = list(session.scalars(stmt))
    return Page(
        items=[TaskRead.model_validate(t) for t in tasks],
        next_cursor=next_cursor([t.id for t in tasks], limit),
    )


@router.get("/tasks/{tid}")
def get_task(task: TaskAsAnnotator) -> TaskRead:
    return TaskRead.model_validate(task)
