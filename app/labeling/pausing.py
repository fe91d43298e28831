"""Pausing annotators (DESIGN §4.5): an annotator whose gold accuracy falls below the project's minimum is
paused after a gold answer when the project asks for it, and gets no task (app/labeling/queue.py) until a
lead resumes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from app.auth import audit
from app.core.errors import InvalidInput
from app.kinds import kind_of
from app.models import Annotation, Member, Project, Task, User, utcnow


def check_annotator(session: Session, *, project_id: int, settings: dict[str, Any], user_id: int) -> bool:
    """After a gold answer: pause the annotator when auto-pause is on and their gold accuracy, over enough
    gold answers, is below the minimum. Returns whether they were paused now."""
    if not settings.get("auto_pause"):
        return False
    member = session.get(Member, (project_id, user_id))
    if member is None or member.paused_at is not None or member.role != "annotator":
        return False
    kind = kind_of(session.get_one(Project, project_id))
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
    scores = [s for r in rows if (s := kind.gold_score(r[0], r[1], settings)) is not None]
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


def paused_members(session: Session, project: Project) -> list[Row[Member, str]]:
    """The project's paused members, with their e-mail addresses."""
    return list(
        session.execute(
            select(Member, User.email)
            .join(User, User.id == Member.user_id)
            .where(Member.project_id == project.id, Member.paused_at.is_not(None))
        ).all()
    )
