from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin


class Snapshot(IdMixin, CreatedMixin, Base):
    """An immutable, numbered export of a project."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int]
    format: Mapped[str] = mapped_column(String(20))
    file_format: Mapped[str] = mapped_column(String(10), default="jsonl")
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    aggregation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    split: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    job_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None]


class TrainedModel(IdMixin, CreatedMixin, Base):
    """What a training job produced, with its lineage."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    snapshot_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("snapshots.id", ondelete="SET NULL"), index=True
    )
    base_model: Mapped[str] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(20))  # sft | reward | dpo | kto
    weights: Mapped[str] = mapped_column(String(10), default="full")  # full | adapter
    path: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    preflab_version: Mapped[str] = mapped_column(String(40), default="")


class AuditEvent(IdMixin, CreatedMixin, Base):
    """Who exported, trained, changed roles or deleted what."""

    __tablename__ = "audit_events"
    # A task's history (the data manager's task panel) is the events whose target is that task.
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)

    user_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(60), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
