"""Which task a claim serves, as SQL (DESIGN §5); the claims themselves are in app/labeling/queue.py.

The candidate queries are written once, in SQLAlchemy Core with named placeholders (:pid, :uid, :overlap,
:gold_mixed): SQLite runs them as they are; PostgreSQL runs them compiled to text inside one-statement
claims, so the rule for "this task is for this user" exists once for both backends.

PostgreSQL: a CTE locks the candidate with FOR UPDATE SKIP LOCKED, bumps the task's `reserved` count
and inserts the lease. Concurrent annotators pass over each other's locked candidates; one whose
snapshot predates another's committed claim re-checks the task's own row (`reserved` lives there for
that reason) and drops it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    Text,
    TextClause,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql.base import PGDialect

from app.models import Annotation, Assignment, Member, Task


def for_user() -> ColumnElement[bool]:
    """A task is for this user when they have not been served it, have not answered it, and are not paused."""
    uid = bindparam("uid", 0, type_=Integer)
    served = exists().where(
        Assignment.user_id == uid,
        Assignment.task_id == Task.id,
        Assignment.status.in_(("active", "submitted", "skipped")),
    )
    answered = exists().where(Annotation.user_id == uid, Annotation.task_id == Task.id)
    paused = exists().where(
        Member.project_id == bindparam("pid", 0, type_=Integer),
        Member.user_id == uid,
        Member.paused_at.is_not(None),
    )
    return ~served & ~answered & ~paused


def candidate(extra: ColumnElement[bool] | TextClause | None = None) -> Select[int]:
    """The open task that wants more answers and is for this user, highest priority first, then oldest;
    not a gold task when gold tasks are mixed in at the gold rate (they come by gold_candidate)."""
    stmt = (
        select(Task.id)
        .where(
            Task.project_id == bindparam("pid", 0, type_=Integer),
            Task.status == "open",
            Task.annotation_count + Task.reserved
            < bindparam("overlap", 1, type_=Integer) + Task.extra_overlap,
            for_user(),
            or_(~bindparam("gold_mixed", False, type_=Boolean), Task.gold.is_(None)),
        )
        .order_by(Task.priority.desc(), Task.id)
        .limit(1)
        .with_for_update(of=Task, skip_locked=True)  # PostgreSQL: claims pass over each other's candidates
    )
    return stmt if extra is None else stmt.where(extra)


def gold_candidate(order: ColumnElement[Any]) -> Select[int]:
    """A gold task, whatever its status and overlap: every annotator meets some, unmarked, at the gold
    rate."""
    return (
        select(Task.id)
        .where(
            Task.project_id == bindparam("pid", 0, type_=Integer),
            Task.gold.is_not(None),
            Task.status.in_(("open", "done")),  # not closed, nor still importing
            for_user(),
        )
        .order_by(order)
        .limit(1)
        .with_for_update(of=Task, skip_locked=True)
    )


_PG = PGDialect(paramstyle="named")
PLACEHOLDERS = frozenset({"pid", "uid", "overlap", "gold_mixed", "seed_text"})  # every claim passes these


def on_postgresql(query: Select[int]) -> tuple[str, dict[str, Any]]:
    """A candidate query as PostgreSQL text to splice into a statement, and the values of its constants."""
    compiled = query.compile(dialect=_PG, compile_kwargs={"render_postcompile": True})
    # the placeholders' stand-in values are left out, so a claim that forgets one fails instead
    return compiled.string, {k: v for k, v in compiled.params.items() if k not in PLACEHOLDERS}


_RESERVE_AND_LEASE = """
reserve AS (
    UPDATE tasks t SET reserved = t.reserved + 1 FROM candidate c WHERE t.id = c.id
    RETURNING t.id, t.responses
), lease AS (
    INSERT INTO assignments (task_id, project_id, user_id, "order", seed, status, expires_at, created_at)
    SELECT r.id, :pid, :uid,
           coalesce((SELECT jsonb_agg(e->>'id' ORDER BY md5((e->>'id') || :seed_text))
                     FROM jsonb_array_elements(r.responses) e), '[]'::jsonb),
           :seed, 'active', :expires, :now
    FROM reserve r
    RETURNING id, task_id, "order", expires_at
)"""


def pg_claim(query: Select[int]) -> tuple[TextClause, dict[str, Any]]:
    """Claim the candidate in one statement: lock it, bump its `reserved` count, insert the lease."""
    sql, constants = on_postgresql(query)
    return text(f"WITH candidate AS ({sql}), {_RESERVE_AND_LEASE} SELECT id FROM lease"), constants


PG_CLAIM = pg_claim(candidate())
PG_GOLD_CLAIM = pg_claim(
    gold_candidate(func.md5(cast(Task.id, Text) + bindparam("seed_text", "", type_=Text)))
)

# The API's hot path in one round trip: the held lease or a new claim, with its task, and whether
# the project has expired leases to give back.
_NEXT_CANDIDATE, NEXT_CONSTANTS = on_postgresql(candidate(text("NOT EXISTS (SELECT 1 FROM held)")))
PG_NEXT = text(f"""
WITH held AS (
    SELECT a.id FROM assignments a
    WHERE a.user_id = :uid AND a.project_id = :pid AND a.status = 'active' AND a.expires_at > :now
    ORDER BY a.id OFFSET :ahead LIMIT 1
), candidate AS ({_NEXT_CANDIDATE}), {_RESERVE_AND_LEASE},
chosen AS (
    SELECT a.id, a.task_id, a."order", a.expires_at FROM assignments a JOIN held h ON h.id = a.id
    UNION ALL
    SELECT id, task_id, "order", expires_at FROM lease
)
SELECT e.has_expired, c.id, c.expires_at, c."order", t.id AS task_id, t.project_id, t.external_id, t.prompt,
       t.responses, t.meta, t.priority, t.status, t.annotation_count, t.created_at
FROM (SELECT EXISTS (SELECT 1 FROM assignments x
                     WHERE x.project_id = :pid AND x.status = 'active' AND x.expires_at <= :now)
      AS has_expired) e
LEFT JOIN (chosen c JOIN tasks t ON t.id = c.task_id) ON true
""")
