"""Bulk actions on a selection of a project's tasks (ids) or on every task a filter matches: set the priority,
mark or unmark gold, re-queue for more annotations, delete. Each writes one audit event per task it changes
(the task's history in the data manager) and one for the request as a whole; the per-task events are one
INSERT … SELECT, so a filter over a million tasks is a few statements, not a million round trips."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, case, delete, func, insert, literal, null, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.core.errors import InvalidInput
from app.datamanager.grid import check_access, id_text, matching
from app.datamanager.schemas import BulkRequest, BulkResult, TaskSelection
from app.kinds import kind_of
from app.models import Annotation, AuditEvent, Project, Review, Task, User, utcnow
from app.models.base import JSONType, UTCDateTime

CHUNK = 500  # tasks per read when an action looks at each task's answers (mark_gold)
LOGGED_IDS = 100  # task ids the request's own audit event lists (each task has its own event besides)


def target(session: Session, project: Project, selection: TaskSelection) -> Select[int]:
    """The ids the selection names, as a query; ids that are not the project's tasks are refused."""
    if selection.filter is not None:
        check_access(selection.filter, flags_visible=True)  # bulk actions are the leads' already
        return matching(session, project, selection.filter)
    wanted = set(selection.task_ids or [])
    stmt = select(Task.id).where(Task.project_id == project.id, Task.id.in_(wanted))
    found = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if found != len(wanted):
        raise InvalidInput(
            f"{len(wanted) - found} of the task ids are not tasks of this project", field="task_ids"
        )
    return stmt


def _log_each(
    session: Session, ids: Select[int], *, action: str, user: User, project: Project, details: Any
) -> None:
    """One audit event per task in `ids`, in one statement."""
    now: datetime = utcnow()
    rows = select(
        literal(user.id),
        literal(project.id),
        literal(action, String),
        literal("task", String),
        id_text(),
        literal(details, JSONType),
        literal(now, UTCDateTime()),
    ).where(Task.id.in_(ids))
    columns = ["user_id", "project_id", "action", "target_type", "target_id", "details", "created_at"]
    session.execute(insert(AuditEvent).from_select(columns, rows))


def _count(session: Session, ids: Select[int]) -> int:
    return int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


def _agreed_answer(project: Project, answers: list[tuple[Any, str, Any]]) -> Any | None:
    """The answer to make gold: a reviewer's corrections and accepted answers if there are any, else the
    counted answers when there are two or more; the most common one as the kind compares answers, None when
    there is no clear one (a tie, a single unreviewed answer, a kind without nominal answers)."""
    kind = kind_of(project)
    reviewed = [fixed if status == "corrected" and fixed is not None else result
                for result, status, fixed in answers if status in ("accepted", "corrected")]  # fmt: skip
    pool = reviewed or [result for result, status, _ in answers if status != "rejected"]
    nominal = any(kind.nominal_units(0, r, project.settings) for r in pool)
    if len(pool) < (1 if reviewed else 2) or not nominal:
        return None
    ranked = Counter(kind.nominal_key(r) for r in pool).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return next(r for r in pool if kind.nominal_key(r) == ranked[0][0])


def _mark_gold(session: Session, project: Project, ids: Select[int], user: User) -> tuple[int, int]:
    """Gold from each task's answers, a chunk of tasks at a time; (changed, skipped)."""
    changed = skipped = 0
    last = 0
    while True:
        chunk = list(session.scalars(ids.where(Task.id > last).order_by(Task.id).limit(CHUNK)))
        if not chunk:
            return changed, skipped
        last = chunk[-1]
        latest_fix = (
            select(Review.result)
            .where(Review.annotation_id == Annotation.id, Review.verdict == "correct")
            .order_by(Review.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        answers: dict[int, list[tuple[Any, str, Any]]] = {tid: [] for tid in chunk}
        for tid, result, status, fixed in session.execute(
            select(Annotation.task_id, Annotation.result, Annotation.status, latest_fix).where(
                Annotation.task_id.in_(chunk)
            )
        ):
            answers[tid].append((result, status, fixed))
        gold = {tid: _agreed_answer(project, found) for tid, found in answers.items()}
        values = [{"id": tid, "gold": value} for tid, value in gold.items() if value is not None]
        skipped += len(chunk) - len(values)
        if values:
            session.execute(update(Task), values)  # by primary key, one executemany
            mine = {
                "user_id": user.id,
                "project_id": project.id,
                "action": "task.gold",
                "target_type": "task",
            }
            events = [
                {**mine, "target_id": str(v["id"]), "details": {"gold": v["gold"], "bulk": True}}
                for v in values
            ]
            session.execute(insert(AuditEvent), events)
            changed += len(values)


def run_bulk(session: Session, *, project: Project, request: BulkRequest, user: User) -> BulkResult:
    ids = target(session, project, request)
    matched = _count(session, ids)
    skipped = 0
    action = request.action
    if action == "set_priority":
        _log_each(session, ids, action="task.priority", user=user, project=project,
                  details={"priority": request.priority, "bulk": True})  # fmt: skip
        changed = session.execute(
            update(Task)
            .where(Task.id.in_(ids))
            .values(priority=request.priority, given_priority=None)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    elif action == "unmark_gold":
        gold_ids = ids.where(Task.gold.is_not(None))
        _log_each(session, gold_ids, action="task.gold", user=user, project=project,
                  details={"gold": None, "bulk": True})  # fmt: skip
        changed = session.execute(
            update(Task)
            .where(Task.id.in_(gold_ids))
            .values(gold=null())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    elif action == "mark_gold":
        changed, skipped = _mark_gold(session, project, ids, user)
    elif action == "requeue":
        changed = _requeue(session, project, ids, user, request.more)
    else:  # delete
        _log_each(session, ids, action="task.delete", user=user, project=project, details={"bulk": True})
        changed = session.execute(
            delete(Task).where(Task.id.in_(ids)).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    record(
        session,
        "tasks.bulk",
        user_id=user.id,
        project_id=project.id,
        target=("project", project.id),
        operation=action,
        matched=matched,
        changed=changed,
        **_selection_details(request),
        **({"priority": request.priority} if action == "set_priority" else {}),
        **({"more": request.more} if action == "requeue" else {}),
    )
    session.expire_all()  # rows were changed behind the ORM's back
    return BulkResult(action=action, matched=matched, changed=changed, skipped=skipped)


def _requeue(session: Session, project: Project, ids: Select[int], user: User, more: int) -> int:
    """Open each task again, wanting at least `more` annotations beyond those it has: its extra overlap
    grows where the project's overlap would not ask for that many (app/labeling counts it)."""
    overlap = int(project.settings.get("overlap", 1))
    wanted = Task.annotation_count + more - overlap
    _log_each(
        session, ids, action="task.requeue", user=user, project=project, details={"more": more, "bulk": True}
    )
    return int(
        session.execute(
            update(Task)
            .where(Task.id.in_(ids))
            .values(
                extra_overlap=case((wanted > Task.extra_overlap, wanted), else_=Task.extra_overlap),
                status="open",
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    )


def _selection_details(selection: TaskSelection) -> dict[str, Any]:
    if selection.filter is not None:
        return {"scope": "filter", "filter": selection.filter.model_dump(exclude_defaults=True)}
    ids = selection.task_ids or []
    return {"scope": "ids", "task_ids": ids[:LOGGED_IDS], "ids_logged": min(len(ids), LOGGED_IDS)}


def log_export(
    session: Session, *, project: Project, selection: TaskSelection, user: User, count: int
) -> None:
    record(session, "tasks.export", user_id=user.id, project_id=project.id, target=("project", project.id),
           count=count, **_selection_details(selection))  # fmt: skip


def count_of(session: Session, project: Project, selection: TaskSelection) -> tuple[Select[int], int]:
    ids = target(session, project, selection)
    return ids, _count(session, ids)
