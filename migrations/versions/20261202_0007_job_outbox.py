"""jobs as an outbox: the task to send, its queue, when it was last sent; an index for the sweeper

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What each kind of job was sent as before the jobs table said so itself.
_TASKS = {
    "import": ("import.tasks", "default"),
    "export": ("export.snapshot", "default"),
    "prelabel": ("prelabel.run", "default"),
    "training": ("training.run", "gpu"),
    "scoring": ("loop.score", "gpu"),
    "ordering": ("loop.order", "default"),
    "stats": ("quality.stats", "default"),
}


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("task_name", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column("queue", sa.String(length=20), server_default="default", nullable=False)
        )
        batch_op.add_column(
            sa.Column("dispatched_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("dispatches", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("interrupted", sa.Boolean(), server_default=sa.false(), nullable=False))
    jobs = sa.table(
        "jobs", sa.column("kind", sa.String), sa.column("task_name", sa.String), sa.column("queue")
    )
    for kind, (task_name, queue) in _TASKS.items():
        op.execute(jobs.update().where(jobs.c.kind == kind).values(task_name=task_name, queue=queue))
    where = sa.text("status IN ('queued', 'running')")
    op.create_index(
        "ix_jobs_unfinished", "jobs", ["status"], unique=False, postgresql_where=where, sqlite_where=where
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_unfinished", table_name="jobs")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("interrupted")
        batch_op.drop_column("dispatches")
        batch_op.drop_column("dispatched_at")
        batch_op.drop_column("queue")
        batch_op.drop_column("task_name")
