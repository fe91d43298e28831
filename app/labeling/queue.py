"""The claim queue (DESIGN §5). One statement claims the next task for a user: an open task of the
project whose annotations + reserved places are fewer than the overlap asks, not annotated, skipped or
held by this user, highest priority first, then oldest.

PostgreSQL: a CTE locks the candidate with FOR UPDATE SKIP LOCKED, bumps the task's `reserved` count
and inserts the lease. Concurrent annotators pass over each other's locked candidates; one whose
snapshot predates another's committed claim re-checks the task's own row (`reserved` lives there for
that reason) and drops it. SQLite: the same select and writes inside the BEGIN IMMEDIATE transaction
every session opens (app/core/db.py), which serializes writers.

A lease holds its place until it is submitted, skipped or expires; expired leases give their places
back lazily, at the next claim in the project that finds one (an index probe when there is none)."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select, text, update
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.orm import Session

from app.models import Annotation, Assignment, Member, Project, Task, User, utcnow

MAX_AHEAD = 1  # leases beyond the current one a user may hold: the page prefetches one task


@dataclass
class Claim:
    assignment: Assignment
    task: Task


def shown_order(response_ids: list[str], seed: int) -> list[str]:
    """Response ids in display order: sorted by md5(id + seed), the same rule the PostgreSQL claim uses."""
    return sorted(response_ids, key=lambda rid: hashlib.md5(f"{rid}{seed}".encode()).hexdigest())


def give_back(session: Session, task_counts: Counter[int]) -> None:
    """Return reserved places to their tasks (never below zero)."""
    for task_id, n in sorted(task_counts.items()):  # one lock order for every writer
        session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(reserved=case((Task.reserved > n, Task.reserved - n), else_=0))
        )


def reap_expired(session: Session, *, project: Project, now: datetime) -> int:
    """Mark expired leases and give their places back; returns how many."""
    probe = select(Assignment.id).where(
        Assignment.project_id == project.id, Assignment.status == "active", Assignment.expires_at <= now
    )
    if session.scalar(probe.limit(1)) is None:
        return 0
    # The status condition makes each lease expire once, even with two reapers at the same moment.
    expired = (
        session.execute(
            update(Assignment)
            # SKIP LOCKED: two claims reaping at once take different leases instead of waiting on each other
            # while each holds the task row it just claimed (a deadlock).
            .where(
                Assignment.id.in_(probe.limit(1000).with_for_update(skip_locked=True).scalar_subquery()),
                Assignment.status == "active",
            )
            .values(status="expired", completed_at=now)
            .returning(Assignment.task_id)
        )
        .scalars()
        .all()
    )
    give_back(session, Counter(expired))
    return len(expired)


# A task is for this user when they have not been served it, have not answered it, and are not paused.
_FOR_USER = """
      AND NOT EXISTS (
            SELECT 1 FROM assignments m
            WHERE m.user_id = :uid AND m.task_id = t.id AND m.status IN ('active', 'submitted', 'skipped'))
      AND NOT EXISTS (SELECT 1 FROM annotations n WHERE n.user_id = :uid AND n.task_id = t.id)
      AND NOT EXISTS (SELECT 1 FROM members p
                      WHERE p.project_id = :pid AND p.user_id = :uid AND p.paused_at IS NOT NULL)
"""
_CANDIDATE = (
    """
    SELECT t.id FROM tasks t
    WHERE t.project_id = :pid AND t.status = 'open' AND t.annotation_count + t.reserved < :overlap"""
    + _FOR_USER
    + """      AND (NOT :gold_mixed OR t.gold IS NULL)
      {extra}
    ORDER BY t.priority DESC, t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
"""
)
# A gold task, whatever its status and overlap: every annotator meets some, unmarked, at the gold rate.
_GOLD_CANDIDATE = (
    """
    SELECT t.id FROM tasks t
    WHERE t.project_id = :pid AND t.gold IS NOT NULL AND t.status != 'closed'"""
    + _FOR_USER
    + """    {extra}
    ORDER BY md5(t.id::text || :seed_text)
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
"""
)
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


def _claim_from(candidate: str) -> Any:
    return text(f"WITH candidate AS ({candidate}), {_RESERVE_AND_LEASE} SELECT id FROM lease")


_PG_CLAIM, _PG_GOLD_CLAIM = (
    _claim_from(_CANDIDATE.format(extra="")),
    _claim_from(_GOLD_CANDIDATE.format(extra="")),
)

# The API's hot path in one round trip: the held lease or a new claim, with its task, and whether
# the project has expired leases to give back.
_PG_NEXT = text(f"""
WITH held AS (
    SELECT a.id FROM assignments a
    WHERE a.user_id = :uid AND a.project_id = :pid AND a.status = 'active' AND a.expires_at > :now
    ORDER BY a.id OFFSET :ahead LIMIT 1
), candidate AS ({_CANDIDATE.format(extra="AND NOT EXISTS (SELECT 1 FROM held)")}), {_RESERVE_AND_LEASE},
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


def _gold_turn(project: Project) -> bool:
    """Whether this claim serves a gold task: with probability gold_rate."""
    rate = float(project.settings.get("gold_rate", 0.0))
    return rate > 0 and secrets.randbelow(1_000_000) < rate * 1_000_000


def _claim_params(project: Project, user_id: int, now: datetime) -> dict[str, Any]:
    seed = secrets.randbelow(2**31)
    return {
        "gold_mixed": float(project.settings.get("gold_rate", 0.0)) > 0,
        "pid": project.id,
        "uid": user_id,
        "now": now,
        "overlap": int(project.settings.get("overlap", 1)),
        "seed": seed,
        "seed_text": str(seed),
        "expires": now + timedelta(minutes=int(project.settings.get("lease_minutes", 10))),
    }


def _claim_postgresql(
    session: Session, *, project: Project, user_id: int, now: datetime, extra: Any = None
) -> int | None:
    params = _claim_params(project, user_id, now)
    claim, gold_claim = _PG_CLAIM, _PG_GOLD_CLAIM
    if extra is not None:  # into the raw SQL, with binds as text() reads them: :name, no driver ::casts
        compiled = select(Task.id).where(extra).compile(dialect=PGDialect(paramstyle="named"))
        also = f"AND t.id IN ({compiled})"
        claim, gold_claim = (_claim_from(c.format(extra=also)) for c in (_CANDIDATE, _GOLD_CANDIDATE))
        params.update(compiled.params)
    if _gold_turn(project) and (gold := session.execute(gold_claim, params).scalar()) is not None:
        return int(gold)
    return session.execute(claim, params).scalar()


def _is_paused(session: Session, project: Project, user_id: int) -> bool:
    return (
        session.scalar(
            select(Member.paused_at).where(Member.project_id == project.id, Member.user_id == user_id)
        )
        is not None
    )


def _claim_sqlite(
    session: Session, *, project: Project, user_id: int, now: datetime, extra: Any = None
) -> int | None:
    mine = exists().where(
        Assignment.user_id == user_id,
        Assignment.task_id == Task.id,
        Assignment.status.in_(("active", "submitted", "skipped")),
    )
    answered = exists().where(Annotation.user_id == user_id, Annotation.task_id == Task.id)
    if _is_paused(session, project, user_id):
        return None
    also = [extra] if extra is not None else []
    row = None
    if _gold_turn(project):
        row = session.execute(
            select(Task.id, Task.responses)
            .where(
                Task.project_id == project.id,
                Task.gold.is_not(None),
                Task.status != "closed",
                ~mine,
                ~answered,
                *also,
            )
            .order_by(func.random())
            .limit(1)
        ).first()
    if row is None:
        pool = select(Task.id, Task.responses).where(
            Task.project_id == project.id,
            Task.status == "open",
            Task.annotation_count + Task.reserved < int(project.settings.get("overlap", 1)),
            ~mine,
            ~answered,
            *also,
        )
        if float(project.settings.get("gold_rate", 0.0)) > 0:
            pool = pool.where(Task.gold.is_(None))
        row = session.execute(pool.order_by(Task.priority.desc(), Task.id).limit(1)).first()
    if row is None:
        return None
    session.execute(update(Task).where(Task.id == row.id).values(reserved=Task.reserved + 1))
    params = _claim_params(project, user_id, now)
    lease = Assignment(
        task_id=row.id,
        project_id=project.id,
        user_id=user_id,
        seed=params["seed"],
        status="active",
        order=shown_order([str(r["id"]) for r in row.responses], params["seed"]),
        expires_at=params["expires"],
        created_at=now,
    )
    session.add(lease)
    session.flush()
    return lease.id


def _held(project: Project, user_id: int, now: datetime, extra: Any = None) -> Any:
    """The user's live leases in the project (on tasks meeting `extra`, if given), oldest first."""
    stmt = (
        select(Assignment.id)
        .where(
            Assignment.user_id == user_id,
            Assignment.project_id == project.id,
            Assignment.status == "active",
            Assignment.expires_at > now,
        )
        .order_by(Assignment.id)
    )
    return stmt if extra is None else stmt.join(Task, Task.id == Assignment.task_id).where(extra)


def claim_lease(
    session: Session, *, project: Project, user_id: int, ahead: int = 0, extra: Any = None
) -> int | None:
    """The id of the user's `ahead`-th live lease in this project (0: the current task, 1: the
    prefetched one), claiming a new task when they hold fewer; None when nothing is left for them.
    `extra`, a condition on Task, limits the leases that count and the tasks claimed (pre-label review)."""
    if not 0 <= ahead <= MAX_AHEAD:
        raise ValueError(f"ahead must be between 0 and {MAX_AHEAD}")
    now = utcnow()
    held = session.scalars(_held(project, user_id, now, extra).limit(ahead + 1)).all()
    if len(held) > ahead:
        return held[ahead]
    reap_expired(session, project=project, now=now)
    claim = _claim_postgresql if session.get_bind().dialect.name == "postgresql" else _claim_sqlite
    return claim(session, project=project, user_id=user_id, now=now, extra=extra)


def next_for_api(
    session: Session, *, project: Project, user_id: int, ahead: int = 0
) -> dict[str, Any] | None:
    """What POST /projects/{pid}/next answers: the lease and its task, or None when nothing is left.
    On PostgreSQL one statement does it all (the annotation loop's hot path)."""
    if session.get_bind().dialect.name != "postgresql":
        lease_id = claim_lease(session, project=project, user_id=user_id, ahead=ahead)
        return lease_and_task(session, lease_id) if lease_id is not None else None
    if not 0 <= ahead <= MAX_AHEAD:
        raise ValueError(f"ahead must be between 0 and {MAX_AHEAD}")
    now = utcnow()
    if _gold_turn(project):  # a gold task, unless the user still holds the lease asked for
        held = session.scalars(_held(project, user_id, now).offset(ahead).limit(1)).first()
        gold = (
            None
            if held is not None
            else session.execute(_PG_GOLD_CLAIM, _claim_params(project, user_id, now)).scalar()
        )
        if gold is not None:
            return lease_and_task(session, int(gold))
    row = session.execute(_PG_NEXT, {**_claim_params(project, user_id, now), "ahead": ahead}).one()
    if row.has_expired:  # give the places of expired leases back, then try again if nothing was free
        reap_expired(session, project=project, now=now)
        if row.id is None:
            row = session.execute(_PG_NEXT, {**_claim_params(project, user_id, now), "ahead": ahead}).one()
    return _api_answer(row) if row.id is not None else None


def _api_answer(row: Any) -> dict[str, Any]:
    return {
        "assignment": {"id": row.id, "expires_at": row.expires_at, "order": row.order},
        "task": {
            "id": row.task_id,
            "project_id": row.project_id,
            "external_id": row.external_id,
            "prompt": row.prompt,
            "responses": row.responses,
            "meta": row.meta,
            "priority": row.priority,
            "status": row.status,
            "annotation_count": row.annotation_count,
            "created_at": row.created_at,
        },
    }


def claim_next_task(session: Session, *, project: Project, user: User, ahead: int = 0) -> Claim | None:
    """claim_lease, with the lease and its task loaded (for pages)."""
    lease_id = claim_lease(session, project=project, user_id=user.id, ahead=ahead)
    if lease_id is None:
        return None
    lease = session.get_one(Assignment, lease_id)
    return Claim(assignment=lease, task=session.get_one(Task, lease.task_id))


def lease_and_task(session: Session, lease_id: int) -> dict[str, Any]:
    """A lease and its task as the API answers them, in one query and without ORM objects."""
    row = session.execute(
        select(
            Assignment.id,
            Assignment.expires_at,
            Assignment.order,
            Task.id.label("task_id"),
            Task.project_id,
            Task.external_id,
            Task.prompt,
            Task.responses,
            Task.meta,
            Task.priority,
            Task.status,
            Task.annotation_count,
            Task.created_at,
        )
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.id == lease_id)
    ).one()
    return _api_answer(row)


def close_lease(session: Session, assignment: Assignment, *, status: str, reason: str | None = None) -> bool:
    """Submit or skip a lease; True when it still held its place (which the caller then gives back).
    The status condition makes this safe against a reaper expiring the same lease at the same time."""
    closed = session.execute(
        update(Assignment)
        .where(Assignment.id == assignment.id, Assignment.status == "active")
        .values(status=status, skip_reason=reason, completed_at=utcnow())
        .returning(Assignment.id)
    ).scalar()
    session.refresh(assignment)
    return closed is not None


def lease_is_live(assignment: Assignment | None, now: datetime | None = None) -> bool:
    return (
        assignment is not None and assignment.status == "active" and assignment.expires_at > (now or utcnow())
    )


__all__ = [
    "Claim",
    "claim_next_task",
    "close_lease",
    "give_back",
    "lease_is_live",
    "reap_expired",
    "shown_order",
]
