from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, JSONType


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
    )

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[Any] = mapped_column(JSONType)
    responses: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    gold: Mapped[Any | None] = mapped_column(JSONType, nullable=True)
    # open: wants annotations; done: overlap reached; closed: taken out by a lead
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    annotation_count: Mapped[int] = mapped_column(default=0, server_default="0")
    import_job_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("jobs.id", ondelete="SET NULL"))


class Suggestion(IdMixin, CreatedMixin, Base):
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
        Index(
            "ix_assignments_task_live", "task_id", "expires_at", postgresql_where=text("status = 'active'")
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
