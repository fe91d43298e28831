from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, KindMixin

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")


class Job(KindMixin, IdMixin, CreatedMixin, Base):
    """Background work: the web enqueues it, a Celery worker runs it and records progress here."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_project_created", "project_id", "created_at"),
        # The sweeper's scan: only jobs that have not ended.
        Index(
            "ix_jobs_unfinished",
            "status",
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(40))  # import | prelabel | export | training | scoring
    project_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    # The outbox: what to send to the broker, and when it was last sent (a sweeper sends it again while
    # the job stays queued, and once more when a running job's worker stops beating).
    task_name: Mapped[str | None] = mapped_column(String(60))
    queue: Mapped[str] = mapped_column(String(20), default="default", server_default="default")
    dispatched_at: Mapped[datetime | None]
    dispatches: Mapped[int] = mapped_column(default=0, server_default="0")
    # Sent again because its worker died mid-run: the next claim tells the runner (training does not
    # restart a run silently).
    interrupted: Mapped[bool] = mapped_column(default=False, server_default=false())
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobMetric(IdMixin, CreatedMixin, Base):
    """One point of a job's metric time series (loss, learning rate, reward accuracy …)."""

    __tablename__ = "job_metrics"
    __table_args__ = (Index("ix_job_metrics_job_name_step", "job_id", "name", "step"),)

    job_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
