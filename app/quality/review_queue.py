"""The review queue (DESIGN §4.4): tasks with unreviewed human answers, most disagreement first, then most
misses against gold, then oldest.

The order is computed, not a column, so a page's cursor is the last item's place in that order (its sort
key): the next page holds the items after it. A task reviewed meanwhile drops out without shifting the
others, as with any keyset cursor."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.kinds import kind_of
from app.models import Annotation, Project, Task

CHUNK = 5000  # task ids per query, under every backend's limit on bound parameters
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


def _pending_tasks(session: Session, project: Project, filters: QueueFilters) -> list[int]:
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
    return [tid for (tid,) in session.execute(pending.distinct())]


def _item(project: Project, task_id: int, answers: list[Any]) -> QueueItem:
    """Disagreement is 1 - (share of the most common answer) over the task's counted answers."""
    kind = kind_of(project)
    gold = answers[0].gold
    scores = [kind.gold_score(a.result, gold, project.settings) for a in answers]
    known = [s for s in scores if s is not None]
    waiting = [a.created_at for a in answers if a.status == "submitted"]
    return QueueItem(
        task_id=task_id,
        disagreement=kind.disagreement([a.result for a in answers]),
        gold_miss=1 - sum(known) / len(known) if known else 0.0,
        pending=len(waiting),
        answers=len(answers),
        oldest=min(waiting) if waiting else min(a.created_at for a in answers),
    )


def review_queue(
    session: Session,
    project: Project,
    filters: QueueFilters | None = None,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One page of the queue, after `cursor` (the previous page's next_cursor)."""
    after = decode_cursor(cursor) if cursor else None
    task_ids = _pending_tasks(session, project, filters or QueueFilters())
    items = []
    for start in range(0, len(task_ids), CHUNK):
        rows = session.execute(
            select(Annotation.task_id, Annotation.result, Annotation.status, Annotation.created_at, Task.gold)
            .join(Task, Task.id == Annotation.task_id)
            .where(Annotation.task_id.in_(task_ids[start : start + CHUNK]), Annotation.status != "rejected")
        )
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.task_id, []).append(row)
        items += [_item(project, tid, answers) for tid, answers in grouped.items()]
    ranked = sorted((i for i in items if after is None or i.place() > after), key=QueueItem.place)
    page = ranked[:limit]
    more = len(ranked) > limit
    return QueuePage(page, encode_cursor(page[-1].place()) if more else None)


def next_for_review(session: Session, project: Project, *, after_task: int) -> int | None:
    """The queue's first task other than the one just reviewed."""
    following = review_queue(session, project, limit=2).items
    return next((i.task_id for i in following if i.task_id != after_task), None)


def tasks_of(session: Session, items: list[QueueItem]) -> dict[int, Task]:
    ids = [i.task_id for i in items]
    return {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(ids)))} if ids else {}
