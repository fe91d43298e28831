"""Reviewing pre-labels: a queue of tasks that have a suggestion, and the reviewer's answer (accept as is,
edit, or reject and replace) stored as an annotation that names the suggestion, its origin and the edit
distance. Answers go through the annotation service's submit, so they keep its invariants: idempotent
by UUID, one answer per person and task, the task's annotation count, status and lease bookkeeping.

The queue leases tasks like the annotation queue does (the same `reserved` count on the task row, the
same Assignment rows), so two reviewers never work the same task when one answer is wanted, and a task
a reviewer answered is never offered to them again on the annotate page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.labeling.queue import reap_expired, shown_order
from app.labeling.schemas import AnnotationPut
from app.labeling.service import submit_annotation
from app.models import Annotation, Assignment, Project, ProjectKind, Suggestion, Task, User, utcnow
from app.prelabel.compare import ACCEPTED, compare
from app.prelabel.schemas import REVIEW_MODE, ReviewBody
from app.prelabel.service import latest_suggestion


@dataclass
class ReviewClaim:
    assignment: Assignment
    task: Task
    suggestion: Suggestion


@dataclass
class Reviewed:
    annotation: Annotation
    created: bool
    suggestion_id: int


def review_mode(project: Project) -> str:
    mode = REVIEW_MODE.get(ProjectKind(project.kind))
    if mode is None:
        raise InvalidInput(
            f"a {project.kind} project has no pre-labels to review: its pre-labels are generated responses"
        )
    return mode


def _has_suggestion(mode: str) -> Any:
    return exists().where(Suggestion.task_id == Task.id, Suggestion.kind == mode, Suggestion.error.is_(None))


def claim_review(session: Session, *, project: Project, user: User) -> ReviewClaim | None:
    """The reviewer's live lease on a task with a suggestion, or a new one; None when none is left."""
    mode = review_mode(project)
    now = utcnow()
    held = session.scalars(
        select(Assignment)
        .join(Task, Task.id == Assignment.task_id)
        .where(
            Assignment.user_id == user.id,
            Assignment.project_id == project.id,
            Assignment.status == "active",
            Assignment.expires_at > now,
            _has_suggestion(mode),
        )
        .order_by(Assignment.id)
        .limit(1)
    ).first()
    if held is None:
        reap_expired(session, project=project, now=now)
        held = _claim(session, project=project, user=user, mode=mode, now=now)
        if held is None:
            return None
    task = session.get_one(Task, held.task_id)
    suggestion = latest_suggestion(session, task_id=task.id, kind=mode)
    assert suggestion is not None  # the claim required one; suggestions are never deleted alone
    return ReviewClaim(held, task, suggestion)


def _claim(session: Session, *, project: Project, user: User, mode: str, now: Any) -> Assignment | None:
    overlap = int(project.settings.get("overlap", 1))
    mine = exists().where(
        Assignment.user_id == user.id,
        Assignment.task_id == Task.id,
        Assignment.status.in_(("active", "submitted", "skipped")),
    )
    answered = exists().where(Annotation.user_id == user.id, Annotation.task_id == Task.id)
    row = session.execute(
        select(Task.id, Task.responses)
        .where(
            Task.project_id == project.id,
            Task.status == "open",
            Task.gold.is_(None),
            Task.annotation_count + Task.reserved < overlap,
            _has_suggestion(mode),
            ~mine,
            ~answered,
        )
        .order_by(Task.priority.desc(), Task.id)
        .limit(1)
        # PostgreSQL: reviewers pass over each other's candidates; SQLite's write lock serializes them
        .with_for_update(skip_locked=True, of=Task)
    ).first()
    if row is None:
        return None
    session.execute(update(Task).where(Task.id == row.id).values(reserved=Task.reserved + 1))
    seed = secrets.randbelow(2**31)
    lease = Assignment(
        task_id=row.id,
        project_id=project.id,
        user_id=user.id,
        seed=seed,
        status="active",
        order=shown_order([str(r["id"]) for r in row.responses], seed),
        expires_at=now + timedelta(minutes=int(project.settings.get("lease_minutes", 10))),
        created_at=now,
    )
    session.add(lease)
    session.flush()
    return lease


def accepted_result(project: Project, suggestion: Suggestion) -> dict[str, Any]:
    """The suggestion as an annotation result of the project's kind, or InvalidInput saying why it
    cannot be taken as it is (the reviewer then edits it)."""
    data, kind, settings = suggestion.result, ProjectKind(project.kind), project.settings
    if kind is ProjectKind.classification:
        return {"labels": list(data.get("labels") or [])}
    if kind is ProjectKind.sft:
        return {"response": str(data.get("response", ""))}
    if kind is ProjectKind.ranking:
        if not data.get("ranking"):
            raise InvalidInput("this judgement has no ranking to accept: rank the responses")
        return {"ranking": list(data["ranking"])}
    choice = data.get("choice")
    if choice == "tie" and not settings.get("allow_ties", True):
        raise InvalidInput(
            "the judge could not decide (its two orders disagreed) and this project allows no ties: "
            "choose a response"
        )
    result: dict[str, Any] = {"choice": choice}
    if settings.get("rationale") == "required":
        result["rationale"] = str(data.get("rationale") or "accepted the judge's choice")
    return result


def review_suggestion(session: Session, *, suggestion: Suggestion, user: User, body: ReviewBody) -> Reviewed:
    """Store the reviewer's answer to a suggestion as their annotation of its task."""
    task = session.get(Task, suggestion.task_id)
    if task is None:
        raise NotFound("suggestion not found")
    project = session.get_one(Project, task.project_id)
    mode = review_mode(project)
    if suggestion.kind != mode or suggestion.error is not None:
        raise InvalidInput(f"only a {mode} suggestion without an error can be reviewed in this project")
    result = accepted_result(project, suggestion) if body.action == "accept" else dict(body.result or {})
    submitted = submit_annotation(
        session,
        annotation_uuid=body.uuid,
        user=user,
        body=AnnotationPut(
            task_id=task.id, result=result, lead_time_ms=body.lead_time_ms, assignment_id=body.assignment_id
        ),
    )
    annotation = submitted.annotation
    if submitted.created:
        origin, distance = (
            (ACCEPTED, 0)
            if body.action == "accept"
            else compare(
                str(project.kind), suggestion.result, annotation.result, rejected=body.action == "reject"
            )
        )
        values = {"suggestion_id": suggestion.id, "origin": origin, "edit_distance": distance}
        if annotation in session:
            for name, value in values.items():
                setattr(annotation, name, value)
            session.flush()
        else:  # PostgreSQL's one-statement submit wrote it behind the ORM's back
            session.execute(
                update(Annotation).where(Annotation.id == annotation.id).values(**values),
                execution_options={"synchronize_session": False},
            )
            for name, value in values.items():
                setattr(annotation, name, value)
    return Reviewed(annotation, submitted.created, suggestion.id)
