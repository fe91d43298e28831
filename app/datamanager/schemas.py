"""What the data manager (a project's Tasks tab and GET /api/v1/projects/{pid}/tasks) filters, sorts and
does in bulk. Every filter is optional; they combine with AND."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.imports.schemas import TaskRead

Status = Literal["open", "done", "closed"]
# A column to sort by, ascending, or descending with a leading "-"; ties are broken by the task id, so the
# keyset cursor neither repeats nor skips a task. Sorting by agreement leaves out tasks without a figure.
Sort = Literal["id", "-id", "priority", "-priority", "annotations", "-annotations", "agreement", "-agreement"]
SORTS: tuple[str, ...] = Sort.__args__  # type: ignore[attr-defined]
SORT_LABELS = {
    "id": "oldest first",
    "-id": "newest first",
    "priority": "priority, lowest first",
    "-priority": "priority, highest first",
    "annotations": "fewest annotations",
    "-annotations": "most annotations",
    "agreement": "least agreement (tasks with 2+ answers)",
    "-agreement": "most agreement (tasks with 2+ answers)",
}
META_KEY = re.compile(r"^[\w.\- :/]{1,100}$")
MAX_IDS = 10_000  # task ids one bulk request may name; the whole filter has no such limit


class TaskFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[Status] = Field(default_factory=list, description="any of these statuses")
    min_annotations: int | None = Field(None, ge=0, le=10_000)
    max_annotations: int | None = Field(None, ge=0, le=10_000)
    min_agreement: float | None = Field(
        None, ge=0, le=1, description="share of answers giving the most common answer (tasks with 2+ answers)"
    )
    max_agreement: float | None = Field(None, ge=0, le=1)
    has_suggestion: bool | None = Field(None, description="a machine suggestion without an error")
    gold: bool | None = None
    flagged: bool | None = Field(None, description="an open (unresolved) flag; leads only")
    meta: dict[str, str] = Field(
        default_factory=dict, description="meta fields that must equal these values (as text)", max_length=10
    )
    q: str | None = Field(None, max_length=200, description="text the prompt contains (case-insensitive)")

    @field_validator("meta")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not META_KEY.match(key):
                raise ValueError(f"meta key {key!r}: letters, digits and _ . - : / only (up to 100)")
            if len(item) > 200:
                raise ValueError(f"meta value of {key!r} is longer than 200 characters")
        return value

    @field_validator("q")
    @classmethod
    def _blank(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def uses_agreement(self) -> bool:
        return self.min_agreement is not None or self.max_agreement is not None


class TaskGridRead(TaskRead):
    """A task as the data manager lists it: the task as GET /api/v1/tasks/{id} answers, and what the grid
    filters on."""

    gold: bool = Field(description="whether the task is a gold task")
    extra_overlap: int = Field(description="annotations wanted beyond the project's overlap (re-queued)")
    agreement: float | None
    has_suggestion: bool
    open_flags: int | None = Field(description="unresolved flags; null for a caller who is not a lead")


class TaskGridPage(BaseModel):
    items: list[TaskGridRead]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")
    agreement_pending: bool = Field(
        False, description="some tasks' agreement is still being computed (filters or sorts by agreement)"
    )


Action = Literal["set_priority", "mark_gold", "unmark_gold", "requeue", "delete"]
ACTION_LABELS = {
    "set_priority": "Set priority",
    "mark_gold": "Mark gold (from the answers)",
    "unmark_gold": "Unmark gold",
    "requeue": "Re-queue for more annotations",
    "delete": "Delete",
}


class TaskSelection(BaseModel):
    """Either task ids or a filter: every task of the project it matches."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[int] | None = Field(None, min_length=1, max_length=MAX_IDS)
    filter: TaskFilter | None = None

    @model_validator(mode="after")
    def _one(self) -> TaskSelection:
        if (self.task_ids is None) == (self.filter is None):
            raise ValueError("name the tasks: task_ids or filter, one of them")
        return self


class BulkRequest(TaskSelection):
    action: Action
    priority: int | None = Field(
        None, ge=-(2**31), le=2**31 - 1, description="set_priority: the new priority"
    )
    more: int = Field(1, ge=1, le=50, description="requeue: at least this many more annotations")
    confirm: bool = Field(False, description="delete: must be true")

    @model_validator(mode="after")
    def _fits(self) -> BulkRequest:
        if self.action == "set_priority" and self.priority is None:
            raise ValueError("set_priority needs priority")
        if self.action == "delete" and not self.confirm:
            raise ValueError("deleting tasks cannot be undone: send confirm: true")
        return self


class BulkResult(BaseModel):
    action: Action
    matched: int = Field(description="tasks the selection named")
    changed: int = Field(description="tasks the action changed")
    skipped: int = Field(0, description="mark_gold: tasks without a clear answer to make gold")
