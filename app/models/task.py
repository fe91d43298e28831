from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, JSONType, KindMixin


class Task(IdMixin, CreatedMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Dedupe on import: the external id, or a content hash when the row has none.
        UniqueConstraint("project_id", "dedupe_key"),
        # The claim queue walks open tasks of a project by priority, then age.
        Index(
            "ix_tasks_queue",
            "project_id",
            text("priority DESC"),
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # The data manager (app/datamanager/grid.py) pages through a project's tasks by keyset, in id order
        # (the primary key) or by one of these columns, then id; the rare gold tasks are an index range too.
        # Every import writes the first two: a status filter, the project in id order and text search read
        # the primary key instead (bench/data_manager.py has the figures).
        Index("ix_tasks_project_priority", "project_id", "priority", "id"),
        Index("ix_tasks_project_annotation_count", "project_id", "annotation_count", "id"),
        Index(
            "ix_tasks_project_agreement",
            "project_id",
            "agreement",
            "id",
            postgresql_where=text("agreement IS NOT NULL"),
            sqlite_where=text("agreement IS NOT NULL"),
        ),
        Index(
            "ix_tasks_project_gold",
            "project_id",
            "id",
            postgresql_where=text("gold IS NOT NULL"),
            sqlite_where=text("gold IS NOT NULL"),
        ),
    )

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[Any] = mapped_column(JSONType)
    responses: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    # The priority the task was imported with, kept while the loop orders the queue by reward scores
    # (app/loop/priority.py); NULL when `priority` is the imported one.
    given_priority: Mapped[int | None]
    gold: Mapped[Any | None] = mapped_column(JSONType, nullable=True)
    # open: wants annotations; done: overlap reached; closed: taken out by a lead
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    annotation_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Annotations wanted beyond the project's overlap: a lead re-queued the task for more (the data manager).
    # The task is done at annotation_count >= overlap + extra_overlap.
    extra_overlap: Mapped[int] = mapped_column(default=0, server_default="0")
    # How far the task's counted answers agree: the share giving the most common answer (1 - the kind's
    # disagreement), kept by app/quality/task_agreement.py for the data manager's filter and sort; NULL with
    # fewer than two answers or for a kind without nominal answers. `agreement_n`: the annotation_count it
    # was computed at, so a changed count marks it stale (an edited answer clears it).
    agreement: Mapped[float | None]
    agreement_n: Mapped[int | None]
    # Live leases holding a place. On the task row so that a claim's row lock re-checks it: PostgreSQL
    # re-evaluates a locked row's own columns after a concurrent update, not a count over another table.
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    # Which import job wrote the row: a tag, not a foreign key. A foreign key would make PostgreSQL check
    # the job row for every imported row while that job's progress updates pile up row versions that the
    # open import transaction keeps alive: the import slowed to a third at 1M rows.
    import_job_id: Mapped[int | None] = mapped_column(BigIntPK)


class Suggestion(KindMixin, IdMixin, CreatedMixin, Base):
    """A machine proposal for a task: generated responses, a predicted label, a judge's preference."""

    __tablename__ = "suggestions"

    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # generate | label | judge | draft | score
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_version: Mapped[int | None]
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    latency_ms: Mapped[int | None]
    error: Mapped[str | None]


class Assignment(IdMixin, CreatedMixin, Base):
    """A lease of one task to one annotator, with the order in which responses were shown."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_user_task", "user_id", "task_id"),
        # Live leases by expiry: every claim looks for expired ones to reap (app/labeling/queue.py), and a
        # project's million past leases must not be read to find none.
        Index(
            "ix_assignments_active_expiry",
            "project_id",
            "expires_at",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"))
    order: Mapped[list[Any]] = mapped_column(default=list)
    seed: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active|submitted|skipped|expired
    skip_reason: Mapped[str | None]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class TaskFlag(IdMixin, CreatedMixin, Base):
    """An annotator's note that a task is unclear, harmful, broken…; it reaches the project's leads."""

    __tablename__ = "task_flags"
    __table_args__ = (Index("ix_task_flags_project_open", "project_id", "resolved_at"),)

    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(20))  # unclear | harmful | broken | other
    comment: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
