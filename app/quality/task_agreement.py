"""Each task's agreement, kept on the task row for the data manager's filter and sort (app/datamanager).

A task's agreement is the share of its counted answers (not rejected) that give the most common answer, as the
kind compares answers (`nominal_key`): 1.0 when everyone agrees, 0.5 when two annotators split. It needs two
answers, and a kind with nominal answers (free text has none): otherwise NULL.

The figure is stale when the task's annotation_count differs from `agreement_n`, the count it was computed at
(a new answer, a rejection), or when `agreement_n` was cleared (an edited answer). `refresh_agreement` brings
stale tasks up to date in chunks: the data manager does a bounded number inline before it filters or sorts by
agreement, the stats job (app/quality/stats.py) the rest."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.models import Annotation, Project, Task

CHUNK = 1000  # tasks per read and write
INLINE = 2000  # stale tasks a page request brings up to date before it answers; a job does the rest
# Looking for stale tasks reads every task of the project: a process looks again when the project has a
# newer answer than at its last look, else at most this often (a rejection or an edit adds no answer).
RECHECK_S = 30.0
_looked: dict[
    int, tuple[Any, float]
] = {}  # project id -> (its newest answer's time, when this process looked)


def stale(project_id: int) -> Any:
    """SQL: the project's tasks whose kept agreement no longer fits their answers."""
    return and_(
        Task.project_id == project_id,
        or_(
            and_(
                Task.annotation_count >= 2,
                or_(Task.agreement_n.is_(None), Task.agreement_n != Task.annotation_count),
            ),
            and_(Task.annotation_count < 2, Task.agreement.is_not(None)),
        ),
    )


def agreement_of(project: Project, results: list[dict[str, Any]]) -> float | None:
    """The share of answers giving the most common answer; None below two answers or without nominal
    answers."""
    kind = kind_of(project)
    if len(results) < 2 or not any(kind.nominal_units(0, r, project.settings) for r in results):
        return None
    counts = Counter(kind.nominal_key(r) for r in results)
    return max(counts.values()) / len(results)


def _recompute(session: Session, project: Project, rows: list[tuple[int, int]]) -> None:
    """Write the agreement of these (task id, annotation count) from their counted answers."""
    answers: dict[int, list[dict[str, Any]]] = {tid: [] for tid, _ in rows}
    for tid, result in session.execute(
        select(Annotation.task_id, Annotation.result).where(
            Annotation.task_id.in_(list(answers)), Annotation.status != "rejected"
        )
    ):
        answers[tid].append(result)
    values = [
        {"id": tid, "agreement": agreement_of(project, answers[tid]), "agreement_n": count}
        for tid, count in rows
    ]
    session.execute(update(Task), values)  # by primary key, one executemany


def refresh_agreement(session: Session, project: Project, *, limit: int | None = None) -> int:
    """Recompute the stale tasks' agreement (at most `limit` of them); returns how many were refreshed."""
    done = 0
    while limit is None or done < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - done)
        rows = session.execute(
            select(Task.id, Task.annotation_count).where(stale(project.id)).order_by(Task.id).limit(size)
        ).all()
        if not rows:
            break
        _recompute(session, project, [(tid, count) for tid, count in rows])
        done += len(rows)
        if len(rows) < size:
            break
    return done


def refresh_shown(session: Session, project: Project, tasks: list[Task]) -> None:
    """The agreement of tasks about to be shown (a page of the grid, an opened task), where it is stale:
    a page shows the figure its answers give, whether or not the whole project is up to date."""
    due = [
        t
        for t in tasks
        if (t.annotation_count >= 2 and t.agreement_n != t.annotation_count)
        or (t.annotation_count < 2 and t.agreement is not None)
    ]
    if due:
        _recompute(session, project, [(t.id, t.annotation_count) for t in due])
        for task in due:
            session.refresh(task, ["agreement", "agreement_n"])


def has_stale(session: Session, project: Project) -> bool:
    return session.scalar(select(Task.id).where(stale(project.id)).limit(1)) is not None


def bring_up_to_date(session: Session, project: Project) -> bool:
    """Before a page filters or sorts by agreement: refresh up to INLINE stale tasks; True when none is left
    stale, False when more are (the caller asks the stats job for the rest)."""
    newest = session.scalar(
        select(func.max(Annotation.created_at)).where(Annotation.project_id == project.id)
    )
    seen = _looked.get(project.id)
    if seen is not None and seen[0] == newest and time.monotonic() - seen[1] < RECHECK_S:
        return True
    if refresh_agreement(session, project, limit=INLINE) >= INLINE and has_stale(session, project):
        return False
    _looked[project.id] = (newest, time.monotonic())
    return True
