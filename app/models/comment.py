from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin


class Comment(IdMixin, CreatedMixin, Base):
    """A note on a task, or on one annotation of it (annotation_id), in a thread: a reply's parent_id is the
    thread's first comment. Who may read which is app/auth/policies.py's (annotation threads are blind)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_task_id", "task_id", "id"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"))
    annotation_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)  # Markdown, rendered by the `markdown` filter
    edited_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))


class Notification(IdMixin, CreatedMixin, Base):
    """One entry of a person's inbox: they were mentioned in a comment, or someone replied to their thread."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "comment_id"),
        Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
    )

    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # mention | reply
    comment_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    read_at: Mapped[datetime | None]
