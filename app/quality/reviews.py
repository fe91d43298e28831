"""Reviews of human annotations (DESIGN §4.4), gold answers and pausing annotators.

A review is kept forever (history); the annotation's status follows the latest one: accepted, rejected or
corrected (the correction becomes the reviewed label). A rejected annotation stops counting towards the
task's overlap, so the task goes back to the pool for someone else; accepting or correcting it later counts
it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Text, case, cast, select, true, update
from sqlalchemy.orm import Session

from app.core import audit
from app.core.errors import Forbidden, InvalidInput
from app.labeling.results import check_result
from app.models import Annotation, Member, Project, Review, Task, User, utcnow
from app.quality import scoring

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
        corrected = check_result(project.kind, project.settings, task.responses, result)
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
                    (Task.annotation_count + delta >= overlap, "done"),
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


@dataclass
class QueueItem:
    task_id: int
    disagreement: float
    gold_miss: float
    pending: int
    answers: int
    oldest: datetime


def review_queue(
    session: Session,
    project: Project,
    *,
    annotator: int | None = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[QueueItem]:
    """Tasks with unreviewed human answers: most disagreement first, then most misses against gold, then
    oldest. Disagreement is 1 - (share of the most common answer) over the task's counted answers."""
    kind = str(project.kind)
    pending = select(Annotation.task_id).where(
        Annotation.project_id == project.id, Annotation.status == "submitted"
    )
    if annotator is not None:
        pending = pending.where(Annotation.user_id == annotator)
    if since is not None:
        pending = pending.where(Annotation.created_at >= since)
    if until is not None:
        pending = pending.where(Annotation.created_at < until)
    if label:
        pending = pending.where(_has_label(kind, label))
    task_ids = [tid for (tid,) in session.execute(pending.distinct())]
    if not task_ids:
        return []
    items = []
    for chunk in range(0, len(task_ids), 5000):
        ids = task_ids[chunk : chunk + 5000]
        rows = session.execute(
            select(Annotation.task_id, Annotation.result, Annotation.status, Annotation.created_at, Task.gold)
            .join(Task, Task.id == Annotation.task_id)
            .where(Annotation.task_id.in_(ids), Annotation.status != "rejected")
        )
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.task_id, []).append(row)
        for tid, answers in grouped.items():
            keys = [scoring.nominal_key(kind, a.result) for a in answers]
            top = max(keys.count(k) for k in set(keys))
            gold = answers[0].gold
            scores = [scoring.gold_score(kind, a.result, gold, project.settings) for a in answers]
            known = [s for s in scores if s is not None]
            items.append(
                QueueItem(
                    task_id=tid,
                    disagreement=1 - top / len(keys) if kind != "sft" else 0.0,
                    gold_miss=1 - sum(known) / len(known) if known else 0.0,
                    pending=sum(1 for a in answers if a.status == "submitted"),
                    answers=len(answers),
                    oldest=min(a.created_at for a in answers if a.status == "submitted")
                    if any(a.status == "submitted" for a in answers)
                    else min(a.created_at for a in answers),
                )
            )
    items.sort(key=lambda i: (-i.disagreement, -i.gold_miss, i.oldest, i.task_id))
    return items[offset : offset + limit]


def _has_label(kind: str, label: str) -> Any:
    if kind == "pairwise":
        return Annotation.result["choice"].as_string() == label
    if kind == "classification":
        # the label among the answer's labels: matched, quoted, in the list's JSON text
        return cast(Annotation.result["labels"], Text).contains(f'"{label}"')
    return true()


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


# --- gold ---------------------------------------------------------------------------------------------


def set_gold(session: Session, *, task: Task, project: Project, gold: Any, user: User) -> Task:
    """Mark a task gold with its expected answer (checked like an annotation), or unmark it (None)."""
    task.gold = None if gold is None else check_result(project.kind, project.settings, task.responses, gold)
    audit.record(
        session, "task.gold", user_id=user.id, project_id=project.id, target=("task", task.id), gold=task.gold
    )
    return task


def check_annotator(session: Session, *, project_id: int, settings: dict[str, Any], user_id: int) -> bool:
    """After a gold answer: pause the annotator when auto-pause is on and their gold accuracy, over enough
    gold answers, is below the minimum. Returns whether they were paused now."""
    if not settings.get("auto_pause"):
        return False
    member = session.get(Member, (project_id, user_id))
    if member is None or member.paused_at is not None or member.role != "annotator":
        return False
    project = session.get_one(Project, project_id)
    rows = session.execute(
        select(Annotation.result, Task.gold)
        .join(Task, Task.id == Annotation.task_id)
        .where(
            Annotation.project_id == project_id,
            Annotation.user_id == user_id,
            Task.gold.is_not(None),
            Annotation.status != "rejected",
        )
    ).all()
    scores = [
        s for r in rows if (s := scoring.gold_score(str(project.kind), r[0], r[1], settings)) is not None
    ]
    minimum, floor = int(settings.get("gold_min_answers", 5)), float(settings.get("gold_min_accuracy", 0.6))
    if len(scores) < minimum or sum(scores) / len(scores) >= floor:
        return False
    accuracy = sum(scores) / len(scores)
    member.paused_at = utcnow()
    member.paused_reason = (
        f"gold accuracy {accuracy:.0%} over {len(scores)} gold answers (minimum {floor:.0%})"
    )
    audit.record(
        session, "member.paused", user_id=None, project_id=project_id, target=("user", user_id),
        accuracy=accuracy, gold_answers=len(scores),
    )  # fmt: skip
    return True


def resume(session: Session, *, project: Project, user_id: int, by: User) -> Member:
    member = session.get(Member, (project.id, user_id))
    if member is None:
        raise InvalidInput("not a member of this project")
    member.paused_at, member.paused_reason = None, None
    audit.record(session, "member.resumed", user_id=by.id, project_id=project.id, target=("user", user_id))
    return member


def paused_members(session: Session, project: Project) -> Select[Member, str]:
    return (
        select(Member, User.email)
        .join(User, User.id == Member.user_id)
        .where(Member.project_id == project.id, Member.paused_at.is_not(None))
    )
