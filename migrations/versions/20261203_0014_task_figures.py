"""figures kept per task (the review queue's order, the leaderboard's games; noted stale by triggers) and
each project's counts and annotators, kept by triggers; live leases indexed by expiry

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:00:00.000000
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# What the triggers do. On SQLite every trigger runs per row (NEW / OLD). On PostgreSQL, inserts and
# deletes run once per statement over its transition table `changed`, adding up the statement's rows: a
# row-level trigger would update a counter row once per row, and a million updates of one row in one
# transaction (an import, a bulk delete, a seed) make PostgreSQL walk ever longer chains of row versions.
# Updates stay per row on both (PostgreSQL allows no transition table beside a column list), behind a WHEN
# where they touch a counter, and they happen a few rows at a time.
SHARDS = 16  # counter rows per project, so that concurrent submits seldom wait on the same one
DONE = "(CASE WHEN {r}.status = 'done' THEN 1 ELSE 0 END)"
COUNTS_UPSERT = (
    " ON CONFLICT (project_id, shard) DO UPDATE SET tasks = project_counts.tasks + excluded.tasks, "
    "done = project_counts.done + excluded.done, annotations = project_counts.annotations + excluded.annotations"
)
GAMES_UPSERT = (
    " ON CONFLICT (project_id, board, a, b, outcome) DO UPDATE SET n = project_games.n + excluded.n"
)
GAME_KEY = (
    "project_id = {r}.project_id AND board = {r}.board AND a = {r}.a AND b = {r}.b AND outcome = {r}.outcome"
)


def _stale(table_task_id: str, via_tasks: bool) -> tuple[str, str]:
    """Note the rows' tasks stale: (per row, per statement)."""
    if via_tasks:  # suggestions carry no project_id
        row = f"SELECT project_id, id FROM tasks WHERE id = {{r}}.{table_task_id}"
        statement = "SELECT DISTINCT t.project_id, t.id FROM changed c JOIN tasks t ON t.id = c.task_id"
    else:
        row = f"VALUES ({{r}}.project_id, {{r}}.{table_task_id})"
        statement = f"SELECT DISTINCT project_id, {table_task_id} FROM changed"
    into = "INSERT INTO stale_tasks (project_id, task_id) "
    return into + row + " ON CONFLICT DO NOTHING", into + statement + " ON CONFLICT DO NOTHING"


def _counts(sign: str, of: str) -> tuple[str, str]:
    """Add (+) or take (-) the rows of tasks (`of` = "tasks") or annotations from the project's counts."""
    task_id = "id" if of == "tasks" else "task_id"
    tasks, done, answers = ("1", DONE, "0") if of == "tasks" else ("0", "0", "1")
    if sign == "+":
        row = (
            "INSERT INTO project_counts (project_id, shard, tasks, done, annotations) "
            f"VALUES ({{r}}.project_id, {{r}}.{task_id} % {SHARDS}, {tasks}, {done}, {answers})"
            + COUNTS_UPSERT
        )
        statement = (
            "INSERT INTO project_counts (project_id, shard, tasks, done, annotations) "
            f"SELECT project_id, {task_id} % {SHARDS}, SUM({tasks}), SUM({done.replace('{r}', 'changed')}), "
            f"SUM({answers}) FROM changed GROUP BY project_id, {task_id} % {SHARDS}" + COUNTS_UPSERT
        )
        return row, statement
    row = (
        f"UPDATE project_counts SET tasks = tasks - {tasks}, done = done - {done}, annotations = annotations - "
        f"{answers} WHERE project_id = {{r}}.project_id AND shard = {{r}}.{task_id} % {SHARDS}"
    )
    statement = (
        "UPDATE project_counts c SET tasks = c.tasks - d.tasks, done = c.done - d.done, "
        "annotations = c.annotations - d.answers FROM ("
        f"SELECT project_id, {task_id} % {SHARDS} AS shard, SUM({tasks}) AS tasks, "
        f"SUM({done.replace('{r}', 'changed')}) AS done, SUM({answers}) AS answers FROM changed "
        f"GROUP BY project_id, {task_id} % {SHARDS}) d WHERE c.project_id = d.project_id AND c.shard = d.shard"
    )
    return row, statement


def _games(sign: str) -> tuple[str, str]:
    """Add (+) or take (-) task_games rows from their project's sums."""
    if sign == "+":
        into = "INSERT INTO project_games (project_id, board, a, b, outcome, n) "
        return (
            into + "VALUES ({r}.project_id, {r}.board, {r}.a, {r}.b, {r}.outcome, {r}.n)" + GAMES_UPSERT,
            into + "SELECT project_id, board, a, b, outcome, SUM(n) FROM changed "
            "GROUP BY project_id, board, a, b, outcome" + GAMES_UPSERT,
        )
    return (
        "UPDATE project_games SET n = n - {r}.n WHERE " + GAME_KEY,
        "UPDATE project_games g SET n = g.n - d.n FROM (SELECT project_id, board, a, b, outcome, SUM(n) AS n "
        "FROM changed GROUP BY project_id, board, a, b, outcome) d WHERE g."
        + GAME_KEY.replace("{r}", "d").replace(" AND ", " AND g."),
    )


ANNOTATOR = (
    "INSERT INTO project_annotators (project_id, user_id) VALUES ({r}.project_id, {r}.user_id) "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO project_annotators (project_id, user_id) SELECT DISTINCT project_id, user_id FROM changed "
    "ON CONFLICT DO NOTHING",
)
DONE_MOVED = (
    f"UPDATE project_counts SET done = done + {DONE.format(r='NEW')} - {DONE.format(r='OLD')} "
    f"WHERE project_id = NEW.project_id AND shard = NEW.id % {SHARDS}"
)
STATUS_CHANGED = {
    "postgresql": "OLD.status IS DISTINCT FROM NEW.status",
    "sqlite": "OLD.status IS NOT NEW.status",
}
NOTE_UPDATED_ANSWER, _ = _stale("task_id", via_tasks=False)
NOTE_UPDATED_SUGGESTION, _ = _stale("task_id", via_tasks=True)
NOTE_UPDATED_TASK, _ = _stale("id", via_tasks=False)


@dataclass
class Trigger:
    name: str
    table: str
    event: str  # INSERT, DELETE, or UPDATE OF ...
    row: str  # the per-row body
    statement: str | None = None  # PostgreSQL's per-statement body, for INSERT and DELETE
    when: dict[str, str] | None = None


def _pair(name: str, table: str, event: str, bodies: tuple[str, str]) -> Trigger:
    return Trigger(name, table, event, bodies[0], bodies[1])


TRIGGERS = [
    _pair("annotations_stale_ins", "annotations", "INSERT", _stale("task_id", via_tasks=False)),
    Trigger("annotations_stale_upd", "annotations", "UPDATE OF status, result, task_id", NOTE_UPDATED_ANSWER),
    _pair("annotations_stale_del", "annotations", "DELETE", _stale("task_id", via_tasks=False)),
    _pair("suggestions_stale_ins", "suggestions", "INSERT", _stale("task_id", via_tasks=True)),
    Trigger("suggestions_stale_upd", "suggestions", "UPDATE OF result, error, kind", NOTE_UPDATED_SUGGESTION),
    _pair("suggestions_stale_del", "suggestions", "DELETE", _stale("task_id", via_tasks=True)),
    Trigger("tasks_stale_upd", "tasks", "UPDATE OF gold, responses", NOTE_UPDATED_TASK),
    _pair("task_games_add", "task_games", "INSERT", _games("+")),
    _pair("task_games_take", "task_games", "DELETE", _games("-")),
    _pair("tasks_count_ins", "tasks", "INSERT", _counts("+", "tasks")),
    _pair("tasks_count_del", "tasks", "DELETE", _counts("-", "tasks")),
    Trigger("tasks_count_done", "tasks", "UPDATE OF status", DONE_MOVED, when=STATUS_CHANGED),
    _pair("annotations_count_ins", "annotations", "INSERT", _counts("+", "annotations")),
    _pair("annotations_count_del", "annotations", "DELETE", _counts("-", "annotations")),
    _pair("annotations_annotator_ins", "annotations", "INSERT", ANNOTATOR),
]


def create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for t in TRIGGERS:
        row = "OLD" if t.event == "DELETE" else "NEW"
        condition = f" WHEN ({t.when[dialect]})" if t.when else ""
        if dialect != "postgresql":
            body = t.row.replace("{r}", row)
            op.execute(
                f"CREATE TRIGGER {t.name} AFTER {t.event} ON {t.table} FOR EACH ROW{condition} BEGIN {body}; END"
            )
            continue
        if t.statement is not None:
            body, each = t.statement, f"REFERENCING {row} TABLE AS changed FOR EACH STATEMENT"
        else:
            body, each = t.row.replace("{r}", row), f"FOR EACH ROW{condition}"
        op.execute(
            f"CREATE FUNCTION {t.name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER {t.name} AFTER {t.event} ON {t.table} {each} EXECUTE FUNCTION {t.name}()")


def upgrade() -> None:
    op.create_table(
        "stale_tasks",
        sa.Column("project_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "task_id", name=op.f("pk_stale_tasks")),
    )
    op.create_table(
        "task_figures",
        sa.Column("task_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("disagreement", sa.Float(), nullable=False),
        sa.Column("gold_miss", sa.Float(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_task_figures_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_figures_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_figures")),
    )
    op.create_index(
        "ix_task_figures_queue",
        "task_figures",
        ["project_id", sa.text("disagreement DESC"), sa.text("gold_miss DESC"), "since", "task_id"],
        unique=False,
        postgresql_where=sa.text("pending > 0"),
        sqlite_where=sa.text("pending > 0"),
    )
    for table, owner in (("task_games", "task"), ("project_games", "project")):
        op.create_table(
            table,
            sa.Column(f"{owner}_id", ID, nullable=False),
            sa.Column("board", sa.Text(), nullable=False),
            sa.Column("a", sa.Text(), nullable=False),
            sa.Column("b", sa.Text(), nullable=False),
            sa.Column("outcome", sa.SmallInteger(), nullable=False),
            *([sa.Column("project_id", ID, nullable=False)] if owner == "task" else []),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                [f"{owner}_id"],
                [f"{owner}s.id"],
                name=op.f(f"fk_{table}_{owner}_id_{owner}s"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(f"{owner}_id", "board", "a", "b", "outcome", name=op.f(f"pk_{table}")),
        )
    op.create_table(
        "project_counts",
        sa.Column("project_id", ID, nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("annotations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_counts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "shard", name=op.f("pk_project_counts")),
    )
    op.execute(
        "INSERT INTO project_counts (project_id, shard, tasks, done, annotations) "
        "SELECT project_id, shard, SUM(t), SUM(d), SUM(a) FROM ("
        f"SELECT project_id, id % {SHARDS} AS shard, 1 AS t, CASE WHEN status = 'done' THEN 1 ELSE 0 END AS d, "
        f"0 AS a FROM tasks UNION ALL SELECT project_id, task_id % {SHARDS}, 0, 0, 1 FROM annotations"
        ") x GROUP BY project_id, shard"
    )
    op.create_table(
        "project_annotators",
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_annotators_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_project_annotators_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_annotators")),
    )
    op.execute(
        "INSERT INTO project_annotators (project_id, user_id) SELECT DISTINCT project_id, user_id FROM annotations"
    )
    op.create_index(
        "ix_assignments_active_expiry",
        "assignments",
        ["project_id", "expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    create_triggers()
    # what is already there is brought up to date by the first read (a bounded part) and the stats job
    op.execute(
        "INSERT INTO stale_tasks (project_id, task_id) SELECT DISTINCT project_id, task_id FROM annotations"
    )
    op.execute(
        "INSERT INTO stale_tasks (project_id, task_id) SELECT DISTINCT t.project_id, t.id FROM suggestions s "
        "JOIN tasks t ON t.id = s.task_id WHERE s.kind = 'judge' AND NOT EXISTS "
        "(SELECT 1 FROM stale_tasks x WHERE x.project_id = t.project_id AND x.task_id = t.id)"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for t in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {t.name}" + (f" ON {t.table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {t.name}()")
    op.drop_index("ix_assignments_active_expiry", table_name="assignments")
    for table in (
        "project_annotators",
        "project_counts",
        "project_games",
        "task_games",
        "task_figures",
        "stale_tasks",
    ):
        op.drop_table(table)
