"""Snapshots: numbered, immutable exports of a project (DESIGN §4.6, §6): create, fill, find, delete.

`export_snapshot` fills one: it streams the project into files (reading.py chooses what goes in, in
batches; writing.py writes rows as they come, so memory stays flat however large the project) through
one connection in one read transaction, so a snapshot is a consistent point in time while annotators
keep working, and moves the finished directory into place in one rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session

from app import __version__
from app.auth import audit
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import Conflict, NotFound
from app.exports.reading import read_transaction
from app.exports.schemas import ExportRequest
from app.exports.writing import Progress, write_snapshot
from app.jobs.runtime import create_job
from app.models import Member, Project, Snapshot, User, utcnow

TASK_NAME = "export.snapshot"


# --- creating and deleting -----------------------------------------------------------------------------


def snapshots_root() -> Path:
    return get_settings().data_dir / "snapshots"


def snapshot_dir(project_id: int, version: int) -> Path:
    return snapshots_root() / f"project-{project_id}" / f"v{version}"


def create_snapshot(
    session: Session, *, project: Project, user: User | None, request: ExportRequest, queue: bool = True
) -> Snapshot:
    """A numbered snapshot row and (queue=True) the export job that fills it."""
    request.for_project(project)
    # Number under the project's row lock (SQLite's write transaction is already exclusive).
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    version = (
        session.scalar(select(func.max(Snapshot.version)).where(Snapshot.project_id == project.id)) or 0
    ) + 1
    dumped = request.model_dump(mode="json")
    snapshot = Snapshot(
        project_id=project.id,
        version=version,
        format=request.format,
        file_format=request.file_format,
        filters=dumped["filters"],
        aggregation={**dumped["aggregation"], "gzip": request.gzip},
        split=dumped["split"],
        status="queued",
        created_by_id=user.id if user else None,
    )
    session.add(snapshot)
    session.flush()
    if queue:
        job = create_job(
            session,
            kind="export",
            task_name=TASK_NAME,
            params={"snapshot_id": snapshot.id, "format": request.format, "version": version},
            project_id=project.id,
            user_id=user.id if user else None,
        )
        snapshot.job_id = job.id
    audit.record(
        session,
        "snapshot.create",
        user_id=user.id if user else None,
        project_id=project.id,
        target=("snapshot", snapshot.id),
        version=version,
        format=request.format,
    )
    return snapshot


def request_of(snapshot: Snapshot) -> ExportRequest:
    aggregation = dict(snapshot.aggregation)
    gz = bool(aggregation.pop("gzip", False))
    return ExportRequest.model_validate(
        {
            "format": snapshot.format,
            "file_format": snapshot.file_format,
            "gzip": gz,
            "filters": snapshot.filters,
            "aggregation": aggregation,
            "split": snapshot.split,
        }
    )


def delete_snapshot(session: Session, snapshot: Snapshot, *, user: User, comment: str | None = None) -> None:
    """Remove the files; keep the row (models trained on it still name it) marked deleted; audited."""
    if snapshot.status in ("queued", "running"):
        raise Conflict("the snapshot is still being written; cancel its job first")
    if snapshot.deleted_at is not None:
        return
    shutil.rmtree(snapshot_dir(snapshot.project_id, snapshot.version), ignore_errors=True)
    snapshot.deleted_at = utcnow()
    snapshot.status = "deleted"
    audit.record(
        session,
        "snapshot.delete",
        user_id=user.id,
        project_id=snapshot.project_id,
        target=("snapshot", snapshot.id),
        version=snapshot.version,
        comment=comment,
    )


def files_of(snapshot: Snapshot) -> list[tuple[str, Path]]:
    """Every file of a ready snapshot, as (name inside the snapshot, path): its splits, the images they
    name (images/…) and anything else written beside them."""
    if snapshot.status != "ready":
        raise NotFound(f"snapshot {snapshot.id} is not ready (status {snapshot.status})")
    directory = snapshot_dir(snapshot.project_id, snapshot.version)
    if not directory.is_dir():
        raise NotFound(f"the files of snapshot {snapshot.id} are missing from the data directory")
    return sorted(
        (path.relative_to(directory).as_posix(), path) for path in directory.rglob("*") if path.is_file()
    )


def file_for(snapshot: Snapshot, split: str) -> Path:
    files = snapshot.manifest.get("files", {})
    if snapshot.status != "ready" or split not in files:
        known = ", ".join(files) or "none"
        raise NotFound(
            f"snapshot {snapshot.id} has no {split} file (status {snapshot.status}; splits: {known})"
        )
    path = snapshot_dir(snapshot.project_id, snapshot.version) / files[split]["file"]
    if not path.exists():
        raise NotFound(f"the {split} file of snapshot {snapshot.id} is missing from the data directory")
    return path


def snapshots_of(project: Project) -> Select[Snapshot]:
    """The project's snapshots, deleted ones included (their rows stay; models trained on them name them)."""
    return select(Snapshot).where(Snapshot.project_id == project.id)


def list_snapshots(session: Session, *, project: Project) -> list[Snapshot]:
    """The project's snapshots, newest first."""
    return list(session.scalars(snapshots_of(project).order_by(Snapshot.id.desc())))


def annotators_to_leave_out(session: Session, *, project: Project) -> list[tuple[int, str]]:
    """The members an export may leave out (filters.exclude_annotators): user id and email."""
    rows = session.execute(
        select(User.id, User.email)
        .join(Member, Member.user_id == User.id)
        .where(Member.project_id == project.id)
    )
    return [(r[0], r[1]) for r in rows]


# --- filling ------------------------------------------------------------------------------------------


def export_snapshot(
    conn: Connection,
    snapshot: Snapshot,
    project: Project,
    *,
    created_by: str | None,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Write a snapshot's files into its numbered directory, atomically, and return its full manifest.
    A directory left by an attempt that crashed is replaced; a finished snapshot is never rewritten."""
    final = snapshot_dir(project.id, snapshot.version)
    tmp = final.parent / f".v{snapshot.version}.tmp-{uuid.uuid4().hex[:8]}"
    for stale in final.parent.glob(f".v{snapshot.version}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    request = request_of(snapshot)
    try:
        # One read transaction for the whole export, unless the caller already holds one.
        outer = conn.in_transaction()
        if not outer:
            conn = read_transaction(conn)
        with contextlib.nullcontext() if outer else conn.begin():
            content = write_snapshot(
                conn, project=project, request=request, directory=tmp, on_progress=on_progress
            )
        manifest = {
            "snapshot_id": snapshot.id,
            "project": {"id": project.id, "name": project.name, "kind": str(project.kind)},
            "version": snapshot.version,
            **content,
            "preflab_version": __version__,
            "created_by": created_by,
            "created_at": utcnow().isoformat(),
        }
        (tmp / "manifest.json").write_bytes(_pretty(manifest))
        os.chmod(tmp / "manifest.json", 0o444)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def settle(snapshot_id: int, status: str, *, manifest: dict[str, Any] | None = None) -> None:
    """Record a snapshot's outcome when no job carries it (the CLI)."""
    with session_scope() as session:
        snapshot = session.get_one(Snapshot, snapshot_id)
        snapshot.status = status
        if manifest is not None:
            snapshot.manifest = manifest


def _pretty(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"
