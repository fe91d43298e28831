"""The review queue (DESIGN §4.4): tasks with unreviewed human answers, most disagreement first, then most
misses against gold, then oldest.

Each task's figures are kept in task_figures (app/quality/task_figures.py), so a page is one index range
however many answers the project has. A page's cursor is the last item's place in that order (its sort
key): the next page holds the items after it. A task reviewed meanwhile drops out without shifting the
others, as with any keyset cursor."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import literal, select, true, tuple_
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.kinds import kind_of
from app.models import Annotation, Project, Task, TaskFigures
from app.models.base import UTCDateTime
from app.quality import task_figures

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Place = tuple[float, float, int, int]  # (-disagreement, -gold misses, waiting since in µs, task id)


@dataclass
class QueueItem:
    task_id: int
    disagreement: float
    gold_miss: float
    pending: int
    answers: int
    oldest: datetime

    def place(self) -> Place:
        since = self.oldest.replace(tzinfo=UTC) if self.oldest.tzinfo is None else self.oldest
        micros = (since - _EPOCH) // timedelta(microseconds=1)
        return (-self.disagreement, -self.gold_miss, micros, self.task_id)


@dataclass
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None
    catching_up: bool = False  # stale tasks were left for the stats job: the order is not final yet


@dataclass
class QueueFilters:
    annotator: int | None = None
    answer: str | None = None  # what the answers say (a label, a response id), where the kind can tell
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(place: Place) -> str:
    return base64.urlsafe_b64encode(json.dumps(place).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Place:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        d, g, since, tid = raw
        return (float(d), float(g), int(since), int(tid))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("cursor: pass the next_cursor of the previous page", field="cursor") from None


def _pending_answers(project: Project, filters: QueueFilters) -> Any:
    """SQL: the tasks with an unreviewed answer that the filters keep."""
    pending = select(Annotation.task_id).where(
        Annotation.project_id == project.id, Annotation.status == "submitted"
    )
    if filters.annotator is not None:
        pending = pending.where(Annotation.user_id == filters.annotator)
    if filters.since is not None:
        pending = pending.where(Annotation.created_at >= filters.since)
    if filters.until is not None:
        pending = pending.where(Annotation.created_at < filters.until)
    if filters.answer:
        answer_is = kind_of(project).answer_filter(Annotation.result, filters.answer)
        pending = pending.where(answer_is if answer_is is not None else true())
    return pending


def _filtered(filters: QueueFilters) -> bool:
    return any(v is not None and v != "" for v in vars(filters).values())


def review_queue(
    session: Session,
    project: Project,
    filters: QueueFilters | None = None,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One page of the queue, after `cursor` (the previous page's next_cursor), read from the figures kept
    per task (app/quality/task_figures.py) in the order of their index."""
    after = decode_cursor(cursor) if cursor else None
    filters = filters or QueueFilters()
    current = task_figures.up_to_date(session, project)
    f = TaskFigures
    stmt = select(f).where(f.project_id == project.id, f.pending > 0)
    if _filtered(filters):
        stmt = stmt.where(f.task_id.in_(_pending_answers(project, filters)))
    if after is not None:
        d, g, micros, tid = after
        since = literal(_EPOCH + timedelta(microseconds=micros), UTCDateTime())
        stmt = stmt.where(
            tuple_(-f.disagreement, -f.gold_miss, f.since, f.task_id) > tuple_(d, g, since, tid)
        )
    stmt = stmt.order_by(f.disagreement.desc(), f.gold_miss.desc(), f.since, f.task_id).limit(limit + 1)
    rows = list(session.scalars(stmt))
    items = [
        QueueItem(r.task_id, r.disagreement, r.gold_miss, r.pending, r.answers, r.since) for r in rows[:limit]
    ]
    more = len(rows) > limit
    return QueuePage(items, encode_cursor(items[-1].place()) if more else None, catching_up=not current)


def next_for_review(session: Session, project: Project, *, after_task: int) -> int | None:
    """The queue's first task other than the one just reviewed."""
    following = review_queue(session, project, limit=2).items
    return next((i.task_id for i in following if i.task_id != after_task), None)


def tasks_of(session: Session, items: list[QueueItem]) -> dict[int, Task]:
    ids = [i.task_id for i in items]
    return {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(ids)))} if ids else {}
