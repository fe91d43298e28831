from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin


class Round(IdMixin, CreatedMixin, Base):
    """One turn of the loop (label → snapshot → train → score/generate): the labels made between
    `started_at` and `closed_at`, and the snapshot and models the lead ties to it. Figures are frozen
    into `metrics` when the round closes; the open round's are computed when read."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    snapshot_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("snapshots.id", ondelete="SET NULL"))
    reward_model_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("models.id", ondelete="SET NULL")
    )
    policy_model_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("models.id", ondelete="SET NULL")
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
