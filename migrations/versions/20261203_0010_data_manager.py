"""the data manager: a task's extra overlap and kept agreement; indexes for its keyset pages and a task's history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("extra_overlap", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("agreement", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("agreement_n", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_project_priority", "tasks", ["project_id", "priority", "id"], unique=False)
    op.create_index(
        "ix_tasks_project_annotation_count", "tasks", ["project_id", "annotation_count", "id"], unique=False
    )
    has_agreement = sa.text("agreement IS NOT NULL")
    op.create_index(
        "ix_tasks_project_agreement",
        "tasks",
        ["project_id", "agreement", "id"],
        unique=False,
        postgresql_where=has_agreement,
        sqlite_where=has_agreement,
    )
    is_gold = sa.text("gold IS NOT NULL")
    op.create_index(
        "ix_tasks_project_gold",
        "tasks",
        ["project_id", "id"],
        unique=False,
        postgresql_where=is_gold,
        sqlite_where=is_gold,
    )
    op.create_index("ix_audit_events_target", "audit_events", ["target_type", "target_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_target", table_name="audit_events")
    for name in (
        "ix_tasks_project_gold",
        "ix_tasks_project_agreement",
        "ix_tasks_project_annotation_count",
        "ix_tasks_project_priority",
    ):
        op.drop_index(name, table_name="tasks")
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("agreement_n")
        batch_op.drop_column("agreement")
        batch_op.drop_column("extra_overlap")
