"""What goes into a snapshot: the project's tasks in keyset batches (id order) and each batch's annotations
in one range query, filtered as the request asks, with a reviewer's correction taking the place of the
answer it corrects. The caller holds one read transaction over all of it (`read_transaction`), so a
snapshot is a consistent point in time while annotators keep working."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, type_coerce

from app.exports.formats import TaskRecord
from app.exports.schemas import ExportRequest
from app.kinds.votes import Vote
from app.models import Annotation, Project, Review, Suggestion, Task
from app.models.base import JSONType

TASK_BATCH = 2000
REVIEWED = ("accepted", "corrected")


def read_transaction(conn: Connection) -> Connection:
    """REPEATABLE READ on PostgreSQL, a deferred read transaction on SQLite."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn.execution_options(sqlite_deferred=True)


def uses_chat(conn: Connection, project_id: int, request: ExportRequest) -> bool:
    mode = request.aggregation.chat
    if mode != "auto":
        return mode == "always"
    json_type = "jsonb_typeof" if conn.dialect.name == "postgresql" else "json_type"
    found = conn.execute(
        select(Task.id)
        .where(Task.project_id == project_id, getattr(func, json_type)(Task.prompt) == "array")
        .limit(1)
    ).first()
    return found is not None


def _has_array(conn: Connection, project_id: int, key: str) -> bool:
    """Some task of the project has a JSON array at `meta[key]`."""
    if conn.dialect.name == "postgresql":
        typed = func.jsonb_typeof(Task.meta.op("->")(key))
    else:
        typed = func.json_type(Task.meta, f"$.{key}")
    found = conn.execute(
        select(Task.id).where(Task.project_id == project_id, typed == "array").limit(1)
    ).first()
    return found is not None


def uses_tools(conn: Connection, project_id: int) -> bool:
    """Some task of the project carries tool schemas (`meta["tools"]`): its rows get a `tools` column, which
    TRL's SFT and DPO trainers hand to the chat template."""
    return _has_array(conn, project_id, "tools")


def uses_images(conn: Connection, project_id: int) -> bool:
    """Some task of the project has images (`meta["images"]`): its rows get an `images` column, and the
    snapshot the files."""
    return _has_array(conn, project_id, "images")


@dataclass(slots=True)
class Extent:
    """How much a snapshot reads, for its manifest."""

    tasks: int  # tasks the export considers
    gold_left_out: int
    up_to_annotation: int | None  # the newest annotation the read transaction sees


def extent_of(conn: Connection, project_id: int, request: ExportRequest) -> Extent:
    total = conn.execute(
        select(func.count()).select_from(Task).where(*_task_filter(project_id, request))
    ).scalar_one()
    gold = 0
    if not request.filters.include_gold:
        gold = conn.execute(
            select(func.count())
            .select_from(Task)
            .where(Task.project_id == project_id, Task.gold.is_not(None))
        ).scalar_one()
    max_annotation = conn.execute(
        select(func.max(Annotation.id)).where(Annotation.project_id == project_id)
    ).scalar_one()
    return Extent(total, gold, max_annotation)


def annotator_trust(
    conn: Connection, project: Project, request: ExportRequest
) -> tuple[dict[int, float] | None, dict[str, Any]]:
    """The "quality" mode's weight per annotator and how it was estimated; (None, {}) for other modes."""
    if request.aggregation.mode != "quality":
        return None, {}
    from app.quality.weights import annotator_weights

    return annotator_weights(conn, project)


def _task_filter(project_id: int, request: ExportRequest) -> list[Any]:
    where: list[Any] = [Task.project_id == project_id, Task.status.in_(("open", "done"))]
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


def _read_batches(
    conn: Connection, project_id: int, request: ExportRequest, *, meta: bool
) -> Iterator[list[TaskRecord]]:
    last = 0
    where = _task_filter(project_id, request)
    raw = meta or request.format == "raw"  # raw writes a task's meta; the others read its tools, images
    cols = (Task.id, Task.external_id, Task.prompt, Task.responses, Task.gold, *((Task.meta,) if raw else ()))
    while True:
        rows = conn.execute(
            select(*cols).where(*where, Task.id > last).order_by(Task.id).limit(TASK_BATCH)
        ).all()
        if not rows:
            return
        yield [
            TaskRecord(r[0], r[1], r[2], list(r[3] or []), r[4], meta=(r[5] or {}) if raw else {})
            for r in rows
        ]
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


def task_batches(
    conn: Connection,
    project_id: int,
    request: ExportRequest,
    seen: Counter[str],
    weights: dict[int, float] | None = None,
    *,
    meta: bool = False,
) -> Iterator[list[TaskRecord]]:
    """The tasks with their votes (or, for "raw", everything stored about them; with `meta`, their meta), in
    batches read one ahead
    by a thread: the database works on the next batch while this one is written (the connection is used
    by that thread alone until it ends). `seen` counts annotations read, used and left out by reason."""
    ready: queue.Queue[list[TaskRecord] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in _read_batches(conn, project_id, request, meta=meta):
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
