"""Snapshots (DESIGN §10): create one as a job, read its manifest, download its files, delete it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from app.auth.deps import CurrentUser, ProjectAsLead, SessionDep, SnapshotDep
from app.exports import service
from app.exports.schemas import ExportRequest, SnapshotCreated, SnapshotRead
from app.models import Snapshot
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of

router = APIRouter(tags=["snapshots"])

SplitName = Literal["train", "validation", "test"]
MEDIA_TYPES = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


@router.post("/projects/{pid}/snapshots", status_code=202)
def create_snapshot(
    body: ExportRequest, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> SnapshotCreated:
    snapshot = service.create_snapshot(session, project=project, user=user, request=body)
    assert snapshot.job_id is not None
    return SnapshotCreated(snapshot_id=snapshot.id, job_id=snapshot.job_id, version=snapshot.version)


@router.get("/projects/{pid}/snapshots")
def list_snapshots(
    project: ProjectAsLead, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[SnapshotRead]:
    page = page_of(session, select(Snapshot).where(Snapshot.project_id == project.id), Snapshot.id,
                   cursor=cursor, limit=limit)  # fmt: skip
    return Page(items=[SnapshotRead.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/snapshots/{sid}")
def get_snapshot(snapshot: SnapshotDep) -> SnapshotRead:
    return SnapshotRead.model_validate(snapshot)


def download_response(snapshot: Snapshot, split: str) -> FileResponse:
    """The file streamed from disk in chunks, named after the project, version and split."""
    path = service.file_for(snapshot, split)
    name = f"project-{snapshot.project_id}-v{snapshot.version}-{path.name}"
    media = "application/gzip" if path.suffix == ".gz" else MEDIA_TYPES[snapshot.file_format]
    return FileResponse(path, media_type=media, filename=name)


@router.get("/snapshots/{sid}/download")
def download(snapshot: SnapshotDep, split: SplitName = Query("train")) -> FileResponse:
    return download_response(snapshot, split)


@router.delete("/snapshots/{sid}", status_code=204)
def delete_snapshot(snapshot: SnapshotDep, user: CurrentUser, session: SessionDep) -> Response:
    service.delete_snapshot(session, snapshot, user=user)
    return Response(status_code=204)
