"""Snapshots: numbered, immutable exports of a project (DESIGN §4.6, §6).

`write_snapshot` streams one project into files: tasks are read in keyset batches (id order), each batch's
annotations in one range query, rows written as they come, so memory stays flat however large the
project. It reads through one connection in one transaction (REPEATABLE READ on PostgreSQL, a deferred
read transaction on SQLite), so a snapshot is a consistent point in time while annotators keep working."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, func, select, type_coerce
from sqlalchemy.orm import Session

from app import __version__
from app.core import audit
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import Conflict, NotFound
from app.exports.aggregate import Vote
from app.exports.formats import Shape, TaskRecord, prompt_key
from app.exports.schemas import ExportRequest
from app.exports.writers import SplitWriter, split_of
from app.jobs.runtime import create_job
from app.models import (
    Annotation,
    Project,
    ProjectKind,
    Review,
    Snapshot,
    Suggestion,
    Task,
    User,
    utcnow,
)
from app.models.base import JSONType

TASK_NAME = "export.snapshot"
TASK_BATCH = 2000
REVIEWED = ("accepted", "corrected")


# --- creating and deleting -----------------------------------------------------------------------------


def snapshots_root() -> Path:
    return get_settings().data_dir / "snapshots"


def snapshot_dir(project_id: int, version: int) -> Path:
    return snapshots_root() / f"project-{project_id}" / f"v{version}"


def create_snapshot(
    session: Session, *, project: Project, user: User | None, request: ExportRequest, queue: bool = True
) -> Snapshot:
    """A numbered snapshot row and (queue=True) the export job that fills it."""
    request.for_project(project.kind, project.settings)
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


# --- writing -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Progress:
    done: int
    total: int


def _uses_chat(conn: Connection, project_id: int, request: ExportRequest) -> bool:
    mode = request.aggregation.chat
    if mode != "auto":
        return mode == "always"
    kind = "jsonb_typeof" if conn.dialect.name == "postgresql" else "json_type"
    found = conn.execute(
        select(Task.id)
        .where(Task.project_id == project_id, getattr(func, kind)(Task.prompt) == "array")
        .limit(1)
    ).first()
    return found is not None


def _task_filter(project_id: int, request: ExportRequest) -> list[Any]:
    where: list[Any] = [Task.project_id == project_id, Task.status != "closed"]
    if not request.filters.include_gold:
        where.append(Task.gold.is_(None))
    return where


def _annotation_filter(project_id: int, request: ExportRequest) -> list[Any]:
    f = request.filters
    where: list[Any] = [Annotation.project_id == project_id]
    if f.date_from is not None:
        where.append(Annotation.created_at >= f.date_from)
    if f.date_to is not None:
        where.append(Annotation.created_at < f.date_to)
    if f.annotators:
        where.append(Annotation.user_id.in_(f.annotators))
    if f.exclude_annotators:
        where.append(Annotation.user_id.not_in(f.exclude_annotators))
    return where


def _corrected_result() -> Any:
    """A corrected annotation's effective result: its latest correcting review's."""
    latest = (
        select(Review.result)
        .where(Review.annotation_id == Annotation.id, Review.verdict == "correct")
        .order_by(Review.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return type_coerce(latest, JSONType)


def _task_batches(conn: Connection, project_id: int, request: ExportRequest) -> Iterator[list[TaskRecord]]:
    last = 0
    where = _task_filter(project_id, request)
    cols = (Task.id, Task.external_id, Task.prompt, Task.responses, Task.gold)
    while True:
        rows = conn.execute(
            select(*cols).where(*where, Task.id > last).order_by(Task.id).limit(TASK_BATCH)
        ).all()
        if not rows:
            return
        yield [TaskRecord(r[0], r[1], r[2], list(r[3] or []), r[4]) for r in rows]
        last = rows[-1][0]


RAW_ANNOTATION = (Annotation.uuid, Annotation.created_at, Annotation.lead_time_ms, Annotation.origin,
                  Annotation.suggestion_id, Annotation.edit_distance)  # fmt: skip


def _attach_votes(
    conn: Connection,
    tasks: list[TaskRecord],
    project_id: int,
    request: ExportRequest,
    seen: Counter[str],
    weights: dict[int, float] | None = None,
) -> None:
    by_id = {t.id: t for t in tasks}
    raw = request.format == "raw"
    cols: list[Any] = [
        Annotation.id,
        Annotation.task_id,
        Annotation.user_id,
        Annotation.result,
        Annotation.status,
        _corrected_result().label("corrected"),
        *(RAW_ANNOTATION if raw else ()),
    ]
    in_batch = Annotation.task_id.between(tasks[0].id, tasks[-1].id)
    stmt = (
        select(*cols)
        .where(*_annotation_filter(project_id, request), in_batch)
        .order_by(Annotation.task_id, Annotation.id)
    )
    reviewed_only = request.filters.reviewed_only
    for row in conn.execute(stmt):
        task = by_id.get(row.task_id)
        if task is None:  # a gold or closed task between two exported ones
            continue
        seen["read"] += 1
        if raw:
            record = row._asdict()
            del record["task_id"], record["corrected"]
            task.annotations.append(record)
            continue
        if row.status == "rejected":
            seen["rejected by a reviewer"] += 1
            continue
        if reviewed_only and row.status not in REVIEWED:
            seen["not reviewed"] += 1
            continue
        seen["used"] += 1
        corrected = row.status == "corrected" and row.corrected is not None
        weight = weights.get(row.user_id, 0.0) if weights is not None else 1.0
        task.votes.append(
            Vote(
                row.id,
                row.user_id,
                row.corrected if corrected else row.result,
                row.status in REVIEWED,
                weight,
            )
        )
    if raw:
        _attach_raw_extras(conn, by_id)


def _attach_raw_extras(conn: Connection, by_id: dict[int, TaskRecord]) -> None:
    reviews = (
        select(
            Annotation.task_id,
            Review.id,
            Review.annotation_id,
            Review.reviewer_id,
            Review.verdict,
            Review.result,
            Review.comment,
            Review.created_at,
        )
        .join(Annotation, Annotation.id == Review.annotation_id)
        .where(Annotation.task_id.in_(list(by_id)))
        .order_by(Review.id)
    )
    for row in conn.execute(reviews):
        record = row._asdict()
        by_id[record.pop("task_id")].reviews.append(record)
    suggestions = (
        select(
            Suggestion.task_id,
            Suggestion.id,
            Suggestion.kind,
            Suggestion.result,
            Suggestion.model,
            Suggestion.prompt_version,
            Suggestion.tokens_in,
            Suggestion.tokens_out,
            Suggestion.cost,
        )
        .where(Suggestion.task_id.in_(list(by_id)), Suggestion.error.is_(None))
        .order_by(Suggestion.id)
    )
    for row in conn.execute(suggestions):
        record = row._asdict()
        by_id[record.pop("task_id")].suggestions.append(record)


def _prefetched(
    conn: Connection,
    project_id: int,
    request: ExportRequest,
    seen: Counter[str],
    weights: dict[int, float] | None = None,
) -> Iterator[list[TaskRecord]]:
    """Batches read one ahead by a thread: the database works on the next batch while this one is written
    (the connection is used by that thread alone until it ends)."""
    ready: queue.Queue[list[TaskRecord] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in _task_batches(conn, project_id, request):
                _attach_votes(conn, batch, project_id, request, seen, weights)
                while not stop.is_set():
                    try:
                        ready.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(None)
        except BaseException as exc:
            ready.put(exc)

    reader = threading.Thread(target=produce, name="export-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _read_transaction(conn: Connection) -> Connection:
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn.execution_options(sqlite_deferred=True)


def write_snapshot(
    conn: Connection,
    *,
    project: Project,
    request: ExportRequest,
    directory: Path,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Write the project's export into `directory` (created); returns the manifest's content part."""
    request.for_project(project.kind, project.settings)
    directory.mkdir(parents=True, exist_ok=False)
    shape = Shape(
        kind=ProjectKind(project.kind),
        request=request,
        chat=_uses_chat(conn, project.id, request),
        multi_label=bool(project.settings.get("multi_label")),
        project_id=project.id,
    )
    names = request.split.names
    writer = SplitWriter(
        directory, names=names, schema=shape.schema(), file_format=request.file_format, gz=request.gzip
    )
    where = _task_filter(project.id, request)
    total = conn.execute(select(func.count()).select_from(Task).where(*where)).scalar_one()
    gold = 0
    if not request.filters.include_gold:
        gold = conn.execute(
            select(func.count())
            .select_from(Task)
            .where(Task.project_id == project.id, Task.gold.is_not(None))
        ).scalar_one()
    max_annotation = conn.execute(
        select(func.max(Annotation.id)).where(Annotation.project_id == project.id)
    ).scalar_one()
    weights: dict[int, float] | None = None
    trust: dict[str, Any] = {}
    if request.aggregation.mode == "quality":
        from app.quality.weights import annotator_weights

        weights, trust = annotator_weights(conn, project)
    dropped: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    done = exported_tasks = 0
    try:
        for batch in _prefetched(conn, project.id, request, seen, weights):
            for task in batch:
                rows = shape.rows(task, dropped)
                if rows:
                    exported_tasks += 1
                    side = split_of(prompt_key(task.prompt), request.split) if len(names) > 1 else "train"
                    for row in rows:
                        writer.add(side, row)
            done += len(batch)
            if on_progress is not None:
                on_progress(Progress(done, total))
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    for name in files:
        os.chmod(directory / files[name]["file"], 0o444)
    return {
        "format": request.format,
        "file_format": request.file_format,
        "gzip": request.gzip,
        "chat": shape.chat,
        "columns": shape.schema().names,
        "filters": request.filters.model_dump(mode="json"),
        "aggregation": request.aggregation.model_dump(mode="json"),
        "split": {
            **request.split.model_dump(mode="json"),
            "rule": "sha256(seed, prompt text): one prompt, one side",
        },
        "counts": {name: files[name]["rows"] for name in names},
        "files": files,
        "tasks": {"considered": total, "exported": exported_tasks, "gold_left_out": gold},
        "annotations": {"read": seen["read"], "used": seen["used"], "up_to_id": max_annotation},
        "dropped": dict(sorted(dropped.items())),
        **({"annotator_weights": trust} if weights is not None else {}),
        "annotations_left_out": {k: v for k, v in sorted(seen.items()) if k not in ("read", "used")},
    }


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
            conn = _read_transaction(conn)
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
