from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, utcnow


class Annotation(IdMixin, CreatedMixin, Base):
    """One person's judgement of one task. Idempotent by the client's UUID."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("uuid"),
        # Led by user_id: "has this user already annotated this task" stays an index probe
        # however many annotations the task has (FIELD-NOTES: a task_id-led index slowed down).
        UniqueConstraint("user_id", "task_id"),
        Index("ix_annotations_task_id", "task_id"),
        Index("ix_annotations_project_created", "project_id", "created_at"),
        Index("ix_annotations_user_created", "user_id", "created_at"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("assignments.id", ondelete="SET NULL")
    )
    suggestion_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("suggestions.id", ondelete="SET NULL")
    )
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lead_time_ms: Mapped[int | None]
    # human | suggestion_accepted | suggestion_edited | suggestion_replaced
    origin: Mapped[str] = mapped_column(String(24), default="human")
    edit_distance: Mapped[int | None]
    # submitted | accepted | rejected | corrected (set by reviews)
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnnotationRevision(IdMixin, CreatedMixin, Base):
    """Edits keep history: the result as it was before each change."""

    __tablename__ = "annotation_revisions"

    annotation_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    edited_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))


class Review(IdMixin, CreatedMixin, Base):
    __tablename__ = "reviews"

    annotation_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(10))  # accept | reject | correct
    result: Mapped[dict[str, Any] | None]
    comment: Mapped[str | None] = mapped_column(Text)
