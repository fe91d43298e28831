"""Submitting, editing, skipping and flagging. Every write here is safe to repeat: a retried submit
finds the stored annotation by its client-chosen UUID and returns it."""

from __future__ import annotations

import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, case, func, literal, or_, select, text, update
from sqlalchemy.orm import Session

from app.auth.policies import in_project, is_own, own, project_for
from app.core.errors import Conflict, InvalidInput, NotFound
from app.labeling.pausing import check_annotator
from app.labeling.queue import close_lease, give_back
from app.labeling.results import check_result, validate_result
from app.labeling.schemas import AnnotationPut
from app.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    Member,
    Project,
    ProjectCount,
    Role,
    Task,
    TaskFlag,
    User,
    utcnow,
)


@dataclass
class Submitted:
    annotation: Annotation
    created: bool


def _check_uuid(value: str) -> str:
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise InvalidInput("the annotation id must be a UUID chosen by the client") from None


def _same(stored: Annotation, *, user: User, body: AnnotationPut, result: dict[str, object]) -> bool:
    return stored.user_id == user.id and stored.task_id == body.task_id and stored.result == result


_PG_SUBMIT = text("""
WITH fresh AS (  -- neither this uuid nor this person's answer to the task is stored yet
    SELECT 1 WHERE NOT EXISTS (
        SELECT 1 FROM annotations WHERE uuid = :uuid OR (user_id = :uid AND task_id = :tid))
), closed AS (  -- a lease still holding its place gives it back below
    UPDATE assignments SET status = 'submitted', completed_at = :now
    WHERE id = CAST(:aid AS bigint) AND status = 'active' AND EXISTS (SELECT 1 FROM fresh)
    RETURNING id
), closed_late AS (  -- an expired lease is marked submitted too, so the queue never offers the task again
    UPDATE assignments SET status = 'submitted', completed_at = :now
    WHERE id = CAST(:aid AS bigint) AND status = 'expired' AND EXISTS (SELECT 1 FROM fresh)
    RETURNING id
), counted AS (
    -- A live lease reserved its place; a late answer needs a place nobody else holds.
    UPDATE tasks SET annotation_count = annotation_count + 1,
                     reserved = reserved - (SELECT count(*) FROM closed),
                     status = CASE WHEN annotation_count + 1 >= :overlap + extra_overlap THEN 'done'
                                   ELSE status END
    WHERE id = :tid AND EXISTS (SELECT 1 FROM fresh)
      AND (:live OR annotation_count + reserved - (SELECT count(*) FROM closed) < :overlap + extra_overlap)
    RETURNING id
), recorded AS (
    INSERT INTO assignments (task_id, project_id, user_id, "order", seed, status, expires_at, completed_at,
                             created_at)
    SELECT :tid, :pid, :uid, CAST(:order AS jsonb), 0, 'submitted', :now, :now, :now
    FROM counted WHERE CAST(:aid AS bigint) IS NULL
    RETURNING id
), stored AS (
    INSERT INTO annotations (uuid, task_id, project_id, user_id, assignment_id, result, lead_time_ms, origin,
                             status, created_at, updated_at)
    SELECT :uuid, :tid, :pid, :uid, coalesce(CAST(:aid AS bigint), (SELECT id FROM recorded)),
           CAST(:result AS jsonb), :lead, 'human', 'submitted', :now, :now
    FROM counted
    ON CONFLICT DO NOTHING
    RETURNING id, assignment_id
)
SELECT (SELECT id FROM stored) AS annotation_id, (SELECT assignment_id FROM stored) AS assignment_id,
       (SELECT count(*) FROM counted) AS counted, EXISTS (SELECT 1 FROM fresh) AS fresh
""")


def submit_annotation(
    session: Session, *, annotation_uuid: str, user: User, body: AnnotationPut
) -> Submitted:
    """Store one person's answer to one task, exactly once.

    The lease (if live) guarantees its place; without one the task must still want annotations. A retry
    with the same UUID returns the stored annotation; a refusal raises and the caller's transaction
    rolls back, so nothing is half-written. PostgreSQL writes everything in one statement."""
    annotation_uuid = _check_uuid(annotation_uuid)
    lease_id = (
        literal(body.assignment_id)
        if body.assignment_id is not None
        else select(Assignment.id)
        .where(
            Assignment.user_id == user.id, Assignment.task_id == body.task_id, Assignment.status == "active"
        )
        .order_by(Assignment.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # Everything the checks need in one read: the task, its project, the caller's role and lease.
    ctx = session.execute(
        select(
            Task.project_id,
            Task.responses,
            Task.gold,
            Project.kind,
            Project.settings,
            Member.role,
            Assignment.id.label("lease_id"),
            Assignment.user_id.label("lease_user"),
            Assignment.task_id.label("lease_task"),
            Assignment.status.label("lease_status"),
            Assignment.expires_at.label("lease_expires"),
        )
        .join(Project, Project.id == Task.project_id)
        .outerjoin(Member, (Member.project_id == Task.project_id) & (Member.user_id == user.id))
        .outerjoin(Assignment, Assignment.id == lease_id)
        .where(Task.id == body.task_id)
    ).first()
    if ctx is None or (ctx.role is None and not user.is_admin):
        raise NotFound(f"task {body.task_id} not found")
    if body.assignment_id is not None and (
        ctx.lease_id is None or not is_own(ctx.lease_user, user) or ctx.lease_task != body.task_id
    ):
        raise InvalidInput("assignment_id does not belong to you and this task")
    result = check_result(  # prompt and meta are read only for an answer that needs them (turns, calls)
        ctx.kind, ctx.settings, ctx.responses, body.result,
        lambda: session.scalar(select(Task.prompt).where(Task.id == body.task_id)),
        meta=lambda: session.scalar(select(Task.meta).where(Task.id == body.task_id)) or {},
    )  # fmt: skip
    now = utcnow()
    overlap = int(ctx.settings.get("overlap", 1))
    live = ctx.lease_status == "active" and ctx.lease_expires is not None and ctx.lease_expires > now
    annotation = Annotation(
        uuid=annotation_uuid,
        task_id=body.task_id,
        project_id=ctx.project_id,
        user_id=user.id,
        result=result,
        lead_time_ms=body.lead_time_ms,
        origin="human",
        status="submitted",
        created_at=now,
        updated_at=now,
    )

    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            _PG_SUBMIT,
            {
                "aid": ctx.lease_id,
                "now": now,
                "overlap": overlap,
                "tid": body.task_id,
                "live": live,
                "pid": ctx.project_id,
                "uid": user.id,
                "uuid": annotation_uuid,
                "order": orjson.dumps([str(r["id"]) for r in ctx.responses]).decode(),
                "result": orjson.dumps(result).decode(),
                "lead": body.lead_time_ms,
            },
        ).one()
        if row.annotation_id is not None:
            annotation.id, annotation.assignment_id = row.annotation_id, row.assignment_id
            if ctx.lease_id is not None and (
                lease := session.identity_map.get((Assignment, (ctx.lease_id,), None))
            ):
                session.expire(lease)  # written behind the ORM's back
            return _stored(session, annotation, ctx)
        if not row.fresh:  # a retry, or a second answer: nothing was written
            return _repeat(session, annotation_uuid=annotation_uuid, user=user, body=body, result=result)
        if not row.counted:
            raise Conflict("this task already has all the annotations it needs; ask for the next one")
        # Counted but not stored: a concurrent retry of this very submit won; raising rolls the count back.
        raise Conflict("this annotation was stored by a concurrent request; retry to get it")

    earlier = _earlier(session, annotation_uuid=annotation_uuid, user=user, task_id=body.task_id)
    if earlier is not None:
        return _repeat(session, annotation_uuid=annotation_uuid, user=user, body=body, result=result)
    lease = session.get(Assignment, ctx.lease_id) if ctx.lease_id is not None else None
    # SQLite: the same steps one by one, inside the write lock BEGIN IMMEDIATE holds.
    held_place = lease is not None and close_lease(session, lease, status="submitted")
    if lease is not None and lease.status == "expired":  # never offer the task to this person again
        lease.status, lease.completed_at = "submitted", now
    free = Task.annotation_count + Task.reserved - (1 if held_place else 0) < overlap + Task.extra_overlap
    counted = session.execute(
        update(Task)
        .where(Task.id == body.task_id, free | live)
        .values(
            annotation_count=Task.annotation_count + 1,
            reserved=Task.reserved - (1 if held_place else 0),
            status=case(
                (Task.annotation_count + 1 >= overlap + Task.extra_overlap, "done"), else_=Task.status
            ),
        )
        .returning(Task.id)
    ).scalar()
    if counted is None:
        raise Conflict("this task already has all the annotations it needs; ask for the next one")
    if (
        lease is None
    ):  # annotated without asking for a lease (API): record it so the queue never offers it again
        lease = Assignment(
            task_id=body.task_id,
            project_id=ctx.project_id,
            user_id=user.id,
            status="submitted",
            order=[str(r["id"]) for r in ctx.responses],
            expires_at=now,
            completed_at=now,
        )
        session.add(lease)
        session.flush()
    annotation.assignment_id = lease.id
    session.add(annotation)
    session.flush()
    return _stored(session, annotation, ctx)


def _stored(session: Session, annotation: Annotation, ctx: Any) -> Submitted:
    """A new answer is in; an answer to a gold task may pause its annotator (project setting)."""
    if ctx.gold is not None:
        check_annotator(session, project_id=ctx.project_id, settings=ctx.settings, user_id=annotation.user_id)
    return Submitted(annotation, created=True)


def _earlier(session: Session, *, annotation_uuid: str, user: User, task_id: int) -> Annotation | None:
    return session.scalars(
        select(Annotation).where(
            or_(
                Annotation.uuid == annotation_uuid,
                (Annotation.user_id == user.id) & (Annotation.task_id == task_id),
            )
        )
    ).first()


def _repeat(
    session: Session, *, annotation_uuid: str, user: User, body: AnnotationPut, result: dict[str, object]
) -> Submitted:
    """The stored answer for a retry; 409 when the uuid or the task was answered differently."""
    stored = session.scalar(select(Annotation).where(Annotation.uuid == annotation_uuid))
    if stored is not None:
        if _same(stored, user=user, body=body, result=result):
            return Submitted(stored, created=False)
        raise Conflict("this annotation id was already used for a different answer; generate a new UUID")
    mine = session.scalar(
        select(Annotation.uuid).where(Annotation.user_id == user.id, Annotation.task_id == body.task_id)
    )
    raise Conflict("you already annotated this task; change that annotation instead", annotation_uuid=mine)


def annotation_by_uuid(session: Session, annotation_uuid: str) -> Annotation | None:
    return session.scalar(select(Annotation).where(Annotation.uuid == annotation_uuid))


def annotations_of(project: Project) -> Select[Annotation]:
    """Every annotation in the project, to page through."""
    return select(Annotation).where(Annotation.project_id == project.id)


def edit_annotation(
    session: Session,
    *,
    annotation_uuid: str,
    user: User,
    result: dict[str, object],
    lead_time_ms: int | None = None,
) -> Annotation:
    """Change one's own annotation; the previous result is kept as a revision."""
    annotation = own(
        session.scalar(select(Annotation).where(Annotation.uuid == _check_uuid(annotation_uuid))),
        user,
        missing="annotation not found",
    )
    try:  # someone removed from the project cannot change their answers there any more
        project = project_for(session, project_id=annotation.project_id, user=user, need=Role.annotator)
    except NotFound:
        raise NotFound("annotation not found") from None
    task = session.get_one(Task, annotation.task_id)
    clean = validate_result(project, task, result)
    if clean == annotation.result:
        return annotation
    session.add(
        AnnotationRevision(annotation_id=annotation.id, result=annotation.result, edited_by_id=user.id)
    )
    annotation.result = clean
    task.agreement_n = None  # the task's kept agreement (app/quality/task_agreement.py) is stale now
    if lead_time_ms is not None:
        annotation.lead_time_ms = (annotation.lead_time_ms or 0) + lead_time_ms
    return annotation


def undo_answer(
    session: Session,
    *,
    project: Project,
    user: User,
    annotation_uuid: str,
    result: dict[str, object],
    lead_time_ms: int | None = None,
) -> Annotation:
    """Change one's answer from the annotate page, while its lease would still be live."""
    annotation = own(
        in_project(annotation_by_uuid(session, annotation_uuid), project, missing="annotation not found"),
        user,
        missing="annotation not found",
    )
    lease = session.get(Assignment, annotation.assignment_id) if annotation.assignment_id else None
    if lease is None or lease.expires_at <= utcnow():
        raise Conflict("the time to undo this answer has passed")
    return edit_annotation(
        session, annotation_uuid=annotation_uuid, user=user, result=result, lead_time_ms=lead_time_ms
    )


def skip(session: Session, *, assignment: Assignment, user: User, reason: str | None) -> Assignment:
    own(assignment, user, missing="assignment not found")
    if assignment.status == "skipped":
        return assignment
    if assignment.status != "active":
        raise Conflict(f"this assignment is already {assignment.status}")
    if close_lease(session, assignment, status="skipped", reason=(reason or "").strip() or None):
        give_back(session, Counter({assignment.task_id: 1}))
    return assignment


def flag_task(session: Session, *, task: Task, user: User, reason: str, comment: str) -> TaskFlag:
    flag = TaskFlag(
        task_id=task.id, project_id=task.project_id, user_id=user.id, reason=reason, comment=comment.strip()
    )
    session.add(flag)
    session.flush()
    return flag


def flags_of(
    session: Session, project: Project, *, include_resolved: bool = False, limit: int | None = None
) -> list[TaskFlag]:
    """The project's flags, newest first; open ones only unless asked."""
    stmt = select(TaskFlag).where(TaskFlag.project_id == project.id).order_by(TaskFlag.id.desc())
    if not include_resolved:
        stmt = stmt.where(TaskFlag.resolved_at.is_(None))
    return list(session.scalars(stmt.limit(limit)))


def resolve_flag(session: Session, *, flag: TaskFlag, user: User) -> TaskFlag:
    if flag.resolved_at is None:
        flag.resolved_at = utcnow()
        flag.resolved_by_id = user.id
    return flag


@dataclass
class MyProgress:
    done_today: int
    done_total: int
    project_done: int
    project_total: int


def my_progress(session: Session, *, project: Project, user: User, now: datetime | None = None) -> MyProgress:
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today, total = session.execute(
        select(func.count().filter(Annotation.created_at >= midnight), func.count()).where(
            Annotation.user_id == user.id, Annotation.project_id == project.id
        )
    ).one()
    done, tasks = session.execute(  # the project's kept counts (app/models/figures.py), not a count
        select(
            func.coalesce(func.sum(ProjectCount.done), 0), func.coalesce(func.sum(ProjectCount.tasks), 0)
        ).where(ProjectCount.project_id == project.id)
    ).one()
    return MyProgress(int(today), int(total), int(done), int(tasks))
