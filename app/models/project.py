from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, utcnow


class Role(enum.IntEnum):
    """Project roles, ordered: a higher role can do everything a lower one can."""

    annotator = 1
    reviewer = 2
    lead = 3


class Project(IdMixin, CreatedMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    # Which kinds exist is the registry's to say (app/kinds): the column only stores the name.
    kind: Mapped[str] = mapped_column(String(20))
    instructions: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    llm: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_private: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None]


class Member(CreatedMixin, Base):
    __tablename__ = "members"
    __table_args__ = (Index("ix_members_user_id", "user_id"),)

    project_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))
    # An annotator paused from the project (low gold accuracy): no new tasks until a lead resumes them.
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def role_enum(self) -> Role:
        return Role[self.role]


class ProjectStats(Base):
    """The dashboard's figures for a project, computed by app/quality/stats.py and kept here so the page
    answers at once on a large project; recomputed when annotations changed and the figures are stale."""

    __tablename__ = "project_stats"

    project_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime]
    annotation_count: Mapped[int] = mapped_column(default=0)
    compute_ms: Mapped[int] = mapped_column(default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
