"""Reviewing pre-labels: a queue of tasks that have a suggestion, and the reviewer's answer (accept as is,
edit, or reject and replace) stored as an annotation that names the suggestion, its origin and the edit
distance. Answers go through the annotation service's submit, so they keep its invariants: idempotent
by UUID, one answer per person and task, the task's annotation count, status and lease bookkeeping.

The queue is the annotation queue's claim (app/labeling/queue.py) limited to tasks with a suggestion: the
same `reserved` count on the task row, the same Assignment rows and the same rule of which task is for
whom, so two reviewers never work the same task when one answer is wanted, a paused member is served
nothing, and a task a reviewer answered is never offered to them again on the annotate page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.kinds import kind_of
from app.kinds.edits import ACCEPTED
from app.labeling.queue import claim_lease
from app.labeling.schemas import AnnotationPut
from app.labeling.service import submit_annotation
from app.models import Annotation, Assignment, Project, Suggestion, Task, User
from app.prelabel.schemas import ReviewBody
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
    mode = kind_of(project).review_mode
    if mode is None:
        raise InvalidInput(
            f"a {project.kind} project has no pre-labels to review: its pre-labels are generated responses"
        )
    return mode


def _reviewable(mode: str) -> Any:
    """A task to review: it has a usable suggestion of the review mode, and it is not gold (gold tasks
    score annotators, so no suggestion is shown with them)."""
    suggested = exists().where(
        Suggestion.task_id == Task.id, Suggestion.of_kind(mode), Suggestion.error.is_(None)
    )
    return and_(Task.gold.is_(None), suggested)


def claim_review(session: Session, *, project: Project, user: User) -> ReviewClaim | None:
    """The reviewer's live lease on a task with a suggestion, or a new one; None when none is left. The
    annotation queue's claim, limited to tasks to review: the same rule of which task is for whom
    (paused members get none), the same leases."""
    mode = review_mode(project)
    lease_id = claim_lease(session, project=project, user_id=user.id, extra=_reviewable(mode), gold=False)
    if lease_id is None:
        return None
    lease = session.get_one(Assignment, lease_id)
    task = session.get_one(Task, lease.task_id)
    suggestion = latest_suggestion(session, task_id=task.id, mode=mode)
    assert suggestion is not None  # the claim required one; suggestions are never deleted alone
    return ReviewClaim(lease, task, suggestion)


def accepted_result(project: Project, suggestion: Suggestion) -> dict[str, Any]:
    """The suggestion as an annotation result of the project's kind, or InvalidInput saying why it
    cannot be taken as it is (the reviewer then edits it)."""
    return kind_of(project).accepted_result(project.settings, suggestion.result)


def reviewed_by(session: Session, *, project: Project, user: User) -> int:
    """How many of the user's annotations in the project started from a suggestion."""
    mine = session.scalar(
        select(func.count()).where(
            Annotation.project_id == project.id,
            Annotation.user_id == user.id,
            Annotation.suggestion_id.is_not(None),
        )
    )
    return int(mine or 0)


def suggestion_beside(
    session: Session, *, project: Project, task: Task, user: User
) -> tuple[Suggestion | None, list[str]]:
    """The suggestion shown beside a task on the annotate page, and the order the user sees the task's
    responses in. No suggestion when the project hides them (so leads can measure anchoring), for gold
    tasks (which score annotators), or where pre-labels leave nothing to review."""
    mode = kind_of(project).review_mode
    suggestion = None
    if project.settings.get("show_suggestions", True) and task.gold is None and mode is not None:
        suggestion = latest_suggestion(session, task_id=task.id, mode=mode)
    lease = session.scalars(
        select(Assignment)
        .where(Assignment.user_id == user.id, Assignment.task_id == task.id)
        .order_by(Assignment.id.desc())
        .limit(1)
    ).first()
    order = list(lease.order) if lease else [str(r["id"]) for r in task.responses]
    return suggestion, order


def review_suggestion(session: Session, *, suggestion: Suggestion, user: User, body: ReviewBody) -> Reviewed:
    """Store the reviewer's answer to a suggestion as their annotation of its task."""
    task = session.get(Task, suggestion.task_id)
    if task is None:
        raise NotFound("suggestion not found")
    project = session.get_one(Project, task.project_id)
    mode = review_mode(project)
    if not suggestion.of_kind(mode) or suggestion.error is not None:
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
            else kind_of(project).review_origin(
                suggestion.result, annotation.result, rejected=body.action == "reject"
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
