"""Snapshots (DESIGN §10): create one as a job, read its manifest, download its files, delete it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response, StreamingResponse

from app.exports import service
from app.exports.schemas import ExportRequest, SnapshotCreated, SnapshotRead
from app.models import Snapshot
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of
from app.web.deps import CurrentUser, ProjectAsLead, SessionDep, SnapshotDep
from app.web.downloads import snapshot_archive, snapshot_download

router = APIRouter(tags=["snapshots"])

SplitName = Literal["train", "validation", "test"]


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
    page = page_of(session, service.snapshots_of(project), Snapshot.id, cursor=cursor, limit=limit)
    return Page(items=[SnapshotRead.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/snapshots/{sid}")
def get_snapshot(snapshot: SnapshotDep) -> SnapshotRead:
    return SnapshotRead.model_validate(snapshot)


@router.get("/snapshots/{sid}/download")
def download(snapshot: SnapshotDep, split: SplitName = Query("train")) -> FileResponse:
    return snapshot_download(snapshot, split)


@router.get(
    "/snapshots/{sid}/archive",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "the snapshot's files in one .zip"}},
)
def download_archive(snapshot: SnapshotDep) -> StreamingResponse:
    """Every file of the snapshot in one .zip (splits, images, manifest)."""
    return snapshot_archive(snapshot)


@router.delete("/snapshots/{sid}", status_code=204)
def delete_snapshot(snapshot: SnapshotDep, user: CurrentUser, session: SessionDep) -> Response:
    service.delete_snapshot(session, snapshot, user=user)
    return Response(status_code=204)
