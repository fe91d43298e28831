"""The data manager's grid: a project's tasks filtered, sorted and paged by keyset (DESIGN §5 scale).

A page is `LIMIT n + 1` rows after the cursor, in (sort column, id) order: no OFFSET and no count, so the
millionth task costs what the first does; the extra row only says whether there is more. The cursor of the
default order (id ascending) is the last id as digits, as GET /api/v1/projects/{pid}/tasks always answered;
other orders carry the last row's (value, id) and the order's name, so a cursor from another sort is refused.
Indexes: (project_id, priority, id), (project_id, annotation_count, id), (project_id, agreement, id) where
agreement is set, and the gold tasks (app/models/task.py); id order is the primary key's."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    case,
    cast,
    exists,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from app.core.db import MAX_ID
from app.core.errors import Forbidden, InvalidInput
from app.datamanager.schemas import TaskFilter, TaskGridRead
from app.imports.schemas import TaskRead
from app.models import Project, Suggestion, Task, TaskFlag
from app.quality.stats import request_refresh
from app.quality.task_agreement import bring_up_to_date, refresh_shown

_SORT_COLUMNS: dict[str, Any] = {
    "id": Task.id,
    "priority": Task.priority,
    "annotations": Task.annotation_count,
    "agreement": Task.agreement,
}


@dataclass
class GridPage:
    tasks: list[Task]
    next_cursor: str | None
    suggested: set[int] = field(default_factory=set)  # the page's tasks that have a usable suggestion
    open_flags: dict[int, int] = field(default_factory=dict)  # the page's tasks' unresolved flags
    agreement_pending: bool = False  # some tasks' agreement is still being computed (by the stats job)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def prompt_text(dialect: str) -> ColumnElement[Any]:
    """The prompt as text: a plain prompt's own text, a message list as its JSON."""
    if dialect == "postgresql":
        return Task.prompt.op("#>>", return_type=Text)(literal_column("'{}'"))
    return func.json_extract(Task.prompt, "$")


def meta_text(dialect: str, key: str) -> ColumnElement[Any]:
    """A meta field as text, the same on both back ends: "x", 3 → "3", true → "true"."""
    if dialect == "postgresql":
        return Task.meta.op("->>", return_type=Text)(key)
    path = f'$."{key}"'  # the key's characters are checked (schemas.META_KEY): no quote can end the path
    json_type = func.json_type(Task.meta, path)
    return case(
        (json_type == "true", "true"),
        (json_type == "false", "false"),
        else_=cast(func.json_extract(Task.meta, path), Text),
    )


def conditions(project: Project, wanted: TaskFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions on Task, the project's own tasks first."""
    where: list[ColumnElement[bool]] = [Task.project_id == project.id]
    if wanted.status:
        where.append(Task.status.in_(wanted.status))
    if wanted.min_annotations is not None:
        where.append(Task.annotation_count >= wanted.min_annotations)
    if wanted.max_annotations is not None:
        where.append(Task.annotation_count <= wanted.max_annotations)
    if wanted.min_agreement is not None:
        where.append(Task.agreement >= wanted.min_agreement)
    if wanted.max_agreement is not None:
        where.append(Task.agreement <= wanted.max_agreement)
    if wanted.has_suggestion is not None:
        usable = exists().where(Suggestion.task_id == Task.id, Suggestion.error.is_(None))
        where.append(usable if wanted.has_suggestion else ~usable)
    if wanted.gold is not None:
        where.append(Task.gold.is_not(None) if wanted.gold else Task.gold.is_(None))
    if wanted.flagged is not None:
        flagged = select(TaskFlag.task_id).where(
            TaskFlag.project_id == project.id, TaskFlag.resolved_at.is_(None)
        )
        if wanted.flagged:
            where.append(Task.id.in_(flagged))
        else:
            where.append(~exists().where(TaskFlag.task_id == Task.id, TaskFlag.resolved_at.is_(None)))
    for key, value in wanted.meta.items():
        where.append(meta_text(dialect, key) == value)
    if wanted.q:
        where.append(prompt_text(dialect).ilike(_like(wanted.q), escape="\\"))
    return where


def matching(session: Session, project: Project, wanted: TaskFilter) -> Select[int]:
    """The ids of the tasks the filter matches (for bulk actions and exports)."""
    dialect = session.get_bind().dialect.name
    return select(Task.id).where(*conditions(project, wanted, dialect))


def check_access(wanted: TaskFilter, *, flags_visible: bool) -> None:
    if wanted.flagged is not None and not flags_visible:
        raise Forbidden("flags are the project leads': you need the lead role to filter by them")


def encode_cursor(sort: str, value: Any, task_id: int) -> str:
    if sort == "id":
        return str(task_id)
    raw = json.dumps([sort, value, task_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _clamped(number: int) -> int:
    """A number the database can compare (SQLite refuses an int past 64 bits): beyond every id."""
    return max(min(number, MAX_ID), -MAX_ID)


def decode_cursor(sort: str, cursor: str) -> tuple[Any, int] | None:
    """(the last row's sort value, its id). In id order a cursor is an id, read as every paged list of the
    API reads one: anything else starts the list (None), a number past the largest id ends it."""
    if sort == "id":
        if not (cursor.isascii() and cursor.isdigit()):
            return None
        return None, _clamped(int(cursor))
    try:
        name, value, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if name != sort or not isinstance(task_id, int) or not isinstance(value, int | float):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor: pass the next_cursor of the previous page, with the same sort", field="cursor"
        ) from None
    return (_clamped(value) if isinstance(value, int) else value), _clamped(task_id)


def list_tasks(
    session: Session,
    project: Project,
    wanted: TaskFilter,
    *,
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 50,
    flags_visible: bool = False,
) -> GridPage:
    """grid_page, with the tasks' agreement brought up to date first where the filter or sort reads it (the
    rest by the stats job, when there are more stale tasks than a request refreshes)."""
    pending = False
    if wanted.uses_agreement() or sort.removeprefix("-") == "agreement":
        pending = not bring_up_to_date(session, project)
        if pending:
            request_refresh(session, project)
    page = grid_page(
        session, project, wanted, sort=sort, cursor=cursor, limit=limit, flags_visible=flags_visible
    )
    page.agreement_pending = pending
    return page


def grid_page(
    session: Session,
    project: Project,
    wanted: TaskFilter,
    *,
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 50,
    flags_visible: bool = False,
) -> GridPage:
    """One page of the project's tasks that match `wanted`, in `sort` order, after `cursor`."""
    check_access(wanted, flags_visible=flags_visible)
    name = sort.removeprefix("-")
    descending = sort.startswith("-")
    column = _SORT_COLUMNS[name]
    dialect = session.get_bind().dialect.name
    stmt = select(Task).where(*conditions(project, wanted, dialect))
    if name == "agreement":
        stmt = stmt.where(Task.agreement.is_not(None))
    if cursor and (position := decode_cursor(sort, cursor)) is not None:
        value, last_id = position
        if name == "id":
            stmt = stmt.where(Task.id < last_id if descending else Task.id > last_id)
        else:
            key, after = tuple_(column, Task.id), tuple_(value, last_id)
            stmt = stmt.where(key < after if descending else key > after)
    if name == "id":
        order = [Task.id.desc() if descending else Task.id]
    else:
        order = [column.desc(), Task.id.desc()] if descending else [column, Task.id]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    tasks = rows[:limit]
    refresh_shown(session, project, tasks)
    page = GridPage(tasks, None)
    if more:
        last = tasks[-1]
        page.next_cursor = encode_cursor(sort, getattr(last, column.key), last.id)
    ids = [t.id for t in tasks]
    if ids:
        page.suggested = set(
            session.scalars(
                select(Suggestion.task_id)
                .where(Suggestion.task_id.in_(ids), Suggestion.error.is_(None))
                .distinct()
            )
        )
        if flags_visible:
            page.open_flags = dict(
                session.execute(
                    select(TaskFlag.task_id, func.count())
                    .where(TaskFlag.task_id.in_(ids), TaskFlag.resolved_at.is_(None))
                    .group_by(TaskFlag.task_id)
                ).all()
            )
    return page


def id_text() -> ColumnElement[str]:
    """A task's id as the audit log's target_id stores it."""
    return cast(Task.id, String)


def as_read(page: GridPage, *, flags_visible: bool) -> list[TaskGridRead]:
    """The page's tasks as the API lists them."""
    return [
        TaskGridRead.model_validate(
            {
                **TaskRead.model_validate(t).model_dump(),
                "gold": t.gold is not None,
                "extra_overlap": t.extra_overlap,
                "agreement": t.agreement,
                "has_suggestion": t.id in page.suggested,
                "open_flags": page.open_flags.get(t.id, 0) if flags_visible else None,
            }
        )
        for t in page.tasks
    ]
