"""The claim queue (DESIGN §5). One statement claims the next task for a user: an open task of the
project whose annotations + reserved places are fewer than the overlap asks, not annotated, skipped or
held by this user, highest priority first, then oldest.

PostgreSQL claims in one statement (app/labeling/candidates.py). SQLite: the same select and writes
inside the BEGIN IMMEDIATE transaction every session opens (app/core/db.py), which serializes writers.

A lease holds its place until it is submitted, skipped or expires; expired leases give their places
back lazily, at the next claim in the project that finds one (an index probe when there is none)."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, update
from sqlalchemy.orm import Session

from app.labeling.candidates import (
    NEXT_CONSTANTS,
    PG_CLAIM,
    PG_GOLD_CLAIM,
    PG_NEXT,
    candidate,
    gold_candidate,
    pg_claim,
)
from app.models import Assignment, Project, Task, User, utcnow

MAX_AHEAD = 1  # leases beyond the current one a user may hold: the page prefetches one task

Extra = ColumnElement[bool] | None  # a further condition on Task a claim's task must meet


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


def _gold_turn(project: Project, gold: bool) -> bool:
    """Whether this claim serves a gold task: with probability gold_rate, where gold tasks are served."""
    rate = float(project.settings.get("gold_rate", 0.0))
    return gold and rate > 0 and secrets.randbelow(1_000_000) < rate * 1_000_000


def _claim_params(project: Project, user_id: int, now: datetime, *, gold: bool = True) -> dict[str, Any]:
    seed = secrets.randbelow(2**31)
    return {
        # the ordinary candidate leaves gold tasks out where they come at the gold rate, or never
        "gold_mixed": not gold or float(project.settings.get("gold_rate", 0.0)) > 0,
        "pid": project.id,
        "uid": user_id,
        "now": now,
        "overlap": int(project.settings.get("overlap", 1)),
        "seed": seed,
        "seed_text": str(seed),
        "expires": now + timedelta(minutes=int(project.settings.get("lease_minutes", 10))),
    }


def _claim_postgresql(
    session: Session, *, project: Project, user_id: int, now: datetime, extra: Extra, gold: bool
) -> int | None:
    params = _claim_params(project, user_id, now, gold=gold)
    if _gold_turn(project, gold):
        statement, constants = PG_GOLD_CLAIM
        if (found := session.execute(statement, {**constants, **params}).scalar()) is not None:
            return int(found)
    statement, constants = PG_CLAIM if extra is None else pg_claim(candidate(extra))
    return session.execute(statement, {**constants, **params}).scalar()


def _claim_sqlite(
    session: Session, *, project: Project, user_id: int, now: datetime, extra: Extra, gold: bool
) -> int | None:
    params = _claim_params(project, user_id, now, gold=gold)
    wanted = {key: params[key] for key in ("pid", "uid", "overlap", "gold_mixed")}
    row = None
    if _gold_turn(project, gold):
        row = session.execute(gold_candidate(func.random()).add_columns(Task.responses), wanted).first()
    if row is None:
        row = session.execute(candidate(extra).add_columns(Task.responses), wanted).first()
    if row is None:
        return None
    session.execute(update(Task).where(Task.id == row.id).values(reserved=Task.reserved + 1))
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


def _held(project: Project, user_id: int, now: datetime, extra: Extra = None) -> Select[int]:
    """The user's live leases in the project (on tasks meeting `extra`, if given), oldest first."""
    held = (
        select(Assignment.id)
        .where(
            Assignment.user_id == user_id,
            Assignment.project_id == project.id,
            Assignment.status == "active",
            Assignment.expires_at > now,
        )
        .order_by(Assignment.id)
    )
    return held if extra is None else held.join(Task, Task.id == Assignment.task_id).where(extra)


def claim_lease(
    session: Session,
    *,
    project: Project,
    user_id: int,
    ahead: int = 0,
    extra: Extra = None,
    gold: bool = True,
) -> int | None:
    """The id of the user's `ahead`-th live lease in this project (0: the current task, 1: the
    prefetched one), claiming a new task when they hold fewer; None when nothing is left for them.

    `extra` narrows the pool to tasks meeting a further condition on Task (e.g. "has a suggestion"), for
    both the leases already held and the claim; `gold=False` never serves a gold task."""
    if not 0 <= ahead <= MAX_AHEAD:
        raise ValueError(f"ahead must be between 0 and {MAX_AHEAD}")
    now = utcnow()
    held = session.scalars(_held(project, user_id, now, extra).limit(ahead + 1)).all()
    if len(held) > ahead:
        return held[ahead]
    reap_expired(session, project=project, now=now)
    claim = _claim_postgresql if session.get_bind().dialect.name == "postgresql" else _claim_sqlite
    return claim(session, project=project, user_id=user_id, now=now, extra=extra, gold=gold)


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
    if _gold_turn(project, True):  # a gold task, unless the user still holds the lease asked for
        held = session.scalars(_held(project, user_id, now).offset(ahead).limit(1)).first()
        statement, constants = PG_GOLD_CLAIM
        gold = (
            None
            if held is not None
            else session.execute(statement, {**constants, **_claim_params(project, user_id, now)}).scalar()
        )
        if gold is not None:
            return lease_and_task(session, int(gold))
    params = {**NEXT_CONSTANTS, **_claim_params(project, user_id, now), "ahead": ahead}
    row = session.execute(PG_NEXT, params).one()
    if row.has_expired:  # give the places of expired leases back, then try again if nothing was free
        reap_expired(session, project=project, now=now)
        if row.id is None:
            params = {**NEXT_CONSTANTS, **_claim_params(project, user_id, now), "ahead": ahead}
            row = session.execute(PG_NEXT, params).one()
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


def claim_next_task(
    session: Session,
    *,
    project: Project,
    user: User,
    ahead: int = 0,
    extra: Extra = None,
    gold: bool = True,
) -> Claim | None:
    """claim_lease, with the lease and its task loaded (for pages)."""
    lease_id = claim_lease(session, project=project, user_id=user.id, ahead=ahead, extra=extra, gold=gold)
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
