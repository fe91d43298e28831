"""Reviews of human annotations (DESIGN §4.4) and gold answers; the queue of answers to review is in
app/quality/review_queue.py, pausing annotators in app/labeling/pausing.py.

A review is kept forever (history); the annotation's status follows the latest one: accepted, rejected or
corrected (the correction becomes the reviewed label). A rejected annotation stops counting towards the
task's overlap, so the task goes back to the pool for someone else; accepting or correcting it later counts
it again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from app.auth import audit
from app.core.errors import Forbidden, InvalidInput
from app.core.security import pseudonym
from app.labeling.results import check_result
from app.models import Annotation, Assignment, Project, ProjectAnnotator, Review, Task, User

STATUS_OF = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}


def review_annotation(
    session: Session,
    *,
    annotation: Annotation,
    reviewer: User,
    verdict: str,
    result: Any = None,
    comment: str | None = None,
) -> Review:
    if verdict not in STATUS_OF:
        raise InvalidInput("verdict must be accept, reject or correct", field="verdict")
    if annotation.user_id == reviewer.id:
        raise Forbidden("a reviewer cannot review their own annotation")
    task = session.get_one(Task, annotation.task_id)
    project = session.get_one(Project, annotation.project_id)
    corrected = None
    if verdict == "correct":
        if result is None:
            raise InvalidInput("a correction needs the corrected result", field="result")
        corrected = check_result(
            project.kind, project.settings, task.responses, result, lambda: task.prompt,
            meta=lambda: task.meta,
        )  # fmt: skip
    elif result is not None:
        raise InvalidInput("only a correction carries a result", field="result")
    was_counted = annotation.status != "rejected"
    new_status = STATUS_OF[verdict]
    counts = new_status != "rejected"
    if was_counted != counts:  # leaves or rejoins the task's overlap
        overlap = int(project.settings.get("overlap", 1))
        delta = 1 if counts else -1
        session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(
                annotation_count=Task.annotation_count + delta,
                status=case(
                    (Task.status == "closed", "closed"),
                    (Task.annotation_count + delta >= overlap + Task.extra_overlap, "done"),
                    else_="open",
                ),
            )
        )
    annotation.status = new_status
    review = Review(
        annotation_id=annotation.id,
        reviewer_id=reviewer.id,
        verdict=verdict,
        result=corrected,
        comment=(comment or "").strip() or None,
    )
    session.add(review)
    session.flush()
    return review


def task_reviews(session: Session, task: Task) -> list[tuple[Annotation, list[Review]]]:
    """Every answer to a task with its review history, oldest first."""
    answers = list(
        session.scalars(select(Annotation).where(Annotation.task_id == task.id).order_by(Annotation.id))
    )
    history: dict[int, list[Review]] = {a.id: [] for a in answers}
    if answers:
        for review in session.scalars(
            select(Review).where(Review.annotation_id.in_(list(history))).order_by(Review.id)
        ):
            history[review.annotation_id].append(review)
    return [(a, history[a.id]) for a in answers]


def orders_shown(session: Session, answers: list[Annotation]) -> dict[int, list[str]]:
    """Per answer, the response ids in the order its annotator saw them (the lease keeps it): the review
    page names each response by its id and by the letter that annotator saw it under."""
    lease_of = {a.assignment_id: a.id for a in answers if a.assignment_id is not None}
    if not lease_of:
        return {}
    rows = session.execute(select(Assignment.id, Assignment.order).where(Assignment.id.in_(list(lease_of))))
    return {lease_of[lease_id]: [str(rid) for rid in order or []] for lease_id, order in rows}


def review_history(session: Session, annotation: Annotation) -> list[Review]:
    return list(
        session.scalars(select(Review).where(Review.annotation_id == annotation.id).order_by(Review.id))
    )


# --- gold ---------------------------------------------------------------------------------------------


def set_gold(session: Session, *, task: Task, project: Project, gold: Any, user: User) -> Task:
    """Mark a task gold with its expected answer (checked like an annotation), or unmark it (None)."""
    task.gold = (
        None
        if gold is None
        else check_result(
            project.kind, project.settings, task.responses, gold, lambda: task.prompt, meta=lambda: task.meta
        )
    )
    audit.record(
        session, "task.gold", user_id=user.id, project_id=project.id, target=("task", task.id), gold=task.gold
    )
    return task


def answer_on(session: Session, task: Task, annotation_uuid: str) -> Annotation | None:
    """One answer to this task, by its uuid."""
    return session.scalar(
        select(Annotation).where(Annotation.uuid == annotation_uuid, Annotation.task_id == task.id)
    )


def annotator_ids(session: Session, project: Project) -> list[int]:
    """Everyone who answered in the project (kept by a trigger: no scan of the answers)."""
    return list(
        session.scalars(select(ProjectAnnotator.user_id).where(ProjectAnnotator.project_id == project.id))
    )


def annotator_names(session: Session, project: Project, user_ids: list[int]) -> dict[int, str]:
    """Pseudonyms, or e-mail addresses where the project reveals annotators."""
    if project.settings.get("reveal_annotators"):
        return dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
    return {uid: pseudonym(project.id, uid) or "" for uid in user_ids}
