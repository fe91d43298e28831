"""Submitting, editing, skipping and flagging. Every write here is safe to repeat: a retried submit
finds the stored annotation by its client-chosen UUID and returns it."""

from __future__ import annotations

import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.auth.policies import project_for
from app.core.errors import Conflict, InvalidInput, NotFound
from app.labeling.queue import close_lease, give_back, lease_is_live
from app.labeling.results import validate_result
from app.labeling.schemas import AnnotationPut
from app.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    Project,
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


def submit_annotation(
    session: Session, *, annotation_uuid: str, user: User, body: AnnotationPut
) -> Submitted:
    annotation_uuid = _check_uuid(annotation_uuid)
    task = session.get(Task, body.task_id)
    if task is None:
        raise NotFound(f"task {body.task_id} not found")
    try:
        project = project_for(session, project_id=task.project_id, user=user, need=Role.annotator)
    except NotFound:
        raise NotFound(f"task {body.task_id} not found") from None
    result = validate_result(project, task, body.result)

    # A retry, or a second answer to the same task, is found before anything is written.
    earlier = session.scalars(
        select(Annotation).where(
            or_(
                Annotation.uuid == annotation_uuid,
                (Annotation.user_id == user.id) & (Annotation.task_id == task.id),
            )
        )
    ).all()
    for stored in earlier:
        if stored.uuid == annotation_uuid:
            if _same(stored, user=user, body=body, result=result):
                return Submitted(stored, created=False)
            raise Conflict("this annotation id was already used for a different answer; generate a new UUID")
    if earlier:
        raise Conflict(
            "you already annotated this task; change that annotation instead", annotation_uuid=earlier[0].uuid
        )

    lease = _lease_for(session, user=user, task=task, assignment_id=body.assignment_id)
    now = utcnow()
    overlap = int(project.settings.get("overlap", 1))
    live = lease_is_live(lease, now)
    # Closing the lease first tells whether it still held a place (a reaper may have expired it).
    held_place = lease is not None and close_lease(session, lease, status="submitted")
    # Count it atomically: with a live lease it is always accepted (the lease reserved its place);
    # without one only while the task still wants annotations. A refusal rolls everything back.
    counted = session.execute(
        update(Task)
        .where(Task.id == task.id, (Task.annotation_count < overlap) | live)
        .values(
            annotation_count=Task.annotation_count + 1,
            reserved=Task.reserved - (1 if held_place else 0),
            status=case((Task.annotation_count + 1 >= overlap, "done"), else_=Task.status),
        )
        .returning(Task.annotation_count)
    ).scalar()
    if counted is None:
        raise Conflict("this task already has all the annotations it needs; ask for the next one")
    # ON CONFLICT DO NOTHING on both unique keys: a concurrent retry that slipped past the check above
    # ends in a clean 409 (the transaction rolls back) and its next retry finds the stored row.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_id = session.execute(
        insert(Annotation)
        .values(
            uuid=annotation_uuid,
            task_id=task.id,
            project_id=project.id,
            user_id=user.id,
            assignment_id=lease.id if lease else None,
            result=result,
            lead_time_ms=body.lead_time_ms,
            origin="human",
            status="submitted",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Annotation.id)
    ).scalar()
    if new_id is None:
        raise Conflict("this annotation was stored by a concurrent request; retry to get it")
    annotation = session.get_one(Annotation, new_id)
    if (
        lease is None
    ):  # annotated without asking for a lease (API): record it so the queue never offers it again
        session.add(
            Assignment(
                task_id=task.id,
                project_id=project.id,
                user_id=user.id,
                status="submitted",
                order=[str(r["id"]) for r in task.responses],
                expires_at=now,
                completed_at=now,
            )
        )
    return Submitted(annotation, created=True)


def _lease_for(session: Session, *, user: User, task: Task, assignment_id: int | None) -> Assignment | None:
    if assignment_id is not None:
        lease = session.get(Assignment, assignment_id)
        if lease is None or lease.user_id != user.id or lease.task_id != task.id:
            raise InvalidInput("assignment_id does not belong to you and this task")
        return lease
    return session.scalar(
        select(Assignment)
        .where(Assignment.user_id == user.id, Assignment.task_id == task.id, Assignment.status == "active")
        .order_by(Assignment.id.desc())
        .limit(1)
    )


def edit_annotation(
    session: Session,
    *,
    annotation_uuid: str,
    user: User,
    result: dict[str, object],
    lead_time_ms: int | None = None,
) -> Annotation:
    """Change one's own annotation; the previous result is kept as a revision."""
    annotation = session.scalar(select(Annotation).where(Annotation.uuid == _check_uuid(annotation_uuid)))
    if annotation is None or annotation.user_id != user.id:
        raise NotFound("annotation not found")
    project = session.get_one(Project, annotation.project_id)
    task = session.get_one(Task, annotation.task_id)
    clean = validate_result(project, task, result)
    if clean == annotation.result:
        return annotation
    session.add(
        AnnotationRevision(annotation_id=annotation.id, result=annotation.result, edited_by_id=user.id)
    )
    annotation.result = clean
    if lead_time_ms is not None:
        annotation.lead_time_ms = (annotation.lead_time_ms or 0) + lead_time_ms
    return annotation


def skip(session: Session, *, assignment: Assignment, user: User, reason: str | None) -> Assignment:
    if assignment.user_id != user.id:
        raise NotFound("assignment not found")
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
    done, tasks = session.execute(
        select(func.count().filter(Task.status == "done"), func.count()).where(Task.project_id == project.id)
    ).one()
    return MyProgress(int(today), int(total), int(done), int(tasks))
