from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import get_settings
from app.core.errors import InvalidInput
from app.imports.images import NeedsWorker
from app.imports.job import start_import_job
from app.imports.schemas import ImportAnswer, ImportQueued, ImportRefused, TaskRead
from app.imports.service import ImportResult, import_inline
from app.imports.shapes import ImportMapping, RowError, parse_mapping
from app.imports.sources import rows_of
from app.models import Project, User
from app.web.deps import CurrentUser, ProjectAsLead, SessionDep, TaskAsAnnotator
from app.web.uploads import receive_upload

router = APIRouter(tags=["tasks"])

MapQuery = Query(None, alias="map", description="Label Studio data keys: prompt:question,responses:a|b")


def _mapping(spec: str | None) -> Any:
    try:
        return parse_mapping(spec)
    except (RowError, ValueError) as exc:
        raise InvalidInput(f"map: {exc}") from None


_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": ".jsonl, .json or .csv, optionally gzipped",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/projects/{pid}/imports",
    status_code=201,
    response_model=ImportAnswer,
    openapi_extra=_MULTIPART_BODY,
    responses={
        202: {"model": ImportQueued, "description": "a large file runs as a Job"},
        422: {"model": ImportRefused, "description": "bad rows; nothing imported"},
    },
)
async def import_file(
    request: Request,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    mapping: str | None = MapQuery,
) -> ImportAnswer | JSONResponse:
    settings = get_settings()
    parsed = _mapping(mapping)
    # End the transaction the access checks opened before a slow upload streams in: on SQLite it holds
    # the database's one write lock, on PostgreSQL it would sit idle in a transaction.
    session.commit()
    upload = await receive_upload(
        request, dest_dir=settings.uploads_dir, max_bytes=settings.max_upload_mb * 2**20
    )
    assert upload.path is not None
    try:
        if upload.size == 0:
            raise InvalidInput("the file is empty")
        if upload.size <= settings.import_inline_max_bytes:
            try:
                result = await run_in_threadpool(
                    _import_file, session, project, user, upload.path, upload.filename, parsed
                )
                return ImportAnswer(imported=result.imported, duplicates=result.duplicates)
            except NeedsWorker:  # images by URL: the worker fetches them, so it imports the whole file
                session.rollback()
        job = await run_in_threadpool(
            start_import_job,
            session,
            project=project,
            user=user,
            path=upload.path,
            filename=upload.filename,
            mapping=mapping,
        )
        upload.path = None  # the job owns the file now
        return JSONResponse(ImportQueued(job_id=job.id).model_dump(), status_code=202)
    finally:
        if upload.path is not None:
            upload.path.unlink(missing_ok=True)


def _import_file(
    session: Session, project: Project, user: User, path: Path, filename: str, mapping: ImportMapping | None
) -> ImportResult:
    with path.open("rb") as fh, rows_of(fh, filename=filename) as (rows, images):
        result = import_inline(
            session,
            project=project,
            raw_rows=rows,
            mapping=mapping,
            actor_id=user.id,
            source=filename,
            images=images,
        )

    return result


@router.post(
    "/projects/{pid}/tasks",
    status_code=201,
    responses={422: {"model": ImportRefused, "description": "bad rows; nothing imported"}},
)
def create_tasks(
    rows: list[Any],
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    mapping: str | None = MapQuery,
) -> ImportAnswer:
    result = import_inline(
        session,
        project=project,
        raw_rows=enumerate(rows, 1),
        mapping=_mapping(mapping),
        actor_id=user.id,
        source="api rows",
    )

    return ImportAnswer(imported=result.imported, duplicates=result.duplicates)


@router.get("/tasks/{tid}")
def get_task(task: TaskAsAnnotator) -> TaskRead:
    return TaskRead.model_validate(task)
