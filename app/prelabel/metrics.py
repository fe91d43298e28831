"""Pre-label figures for the project page: how often reviewers accept suggestions, how much they change
them, how often the LLM agrees with people who labelled without accepting a suggestion, and the cost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.kinds import kind_of
from app.kinds.edits import ACCEPTED, EDITED, REPLACED
from app.models import Annotation, Project, Suggestion, Task
from app.prelabel.schemas import Metrics


def _latest(mode: str) -> Any:
    """The newest usable suggestion of a mode for the outer task (the one reviewers and metrics use)."""
    inner = aliased(Suggestion)
    return (
        select(func.max(inner.id))
        .where(inner.task_id == Annotation.task_id, inner.of_kind(mode), inner.error.is_(None))
        .scalar_subquery()
    )


def _agreement(session: Session, project: Project, mode: str) -> tuple[int, float | None]:
    """Pairs of (latest suggestion, independent human answer) and the share that agree."""
    rows = session.execute(
        select(Suggestion.result, Annotation.result)
        .join(Annotation, Annotation.task_id == Suggestion.task_id)
        .where(
            Annotation.project_id == project.id,
            Annotation.origin == "human",
            Annotation.status != "rejected",
            Suggestion.id == _latest(mode),
        )
    ).all()
    if not rows:
        return 0, None
    kind = kind_of(project)
    agree = sum(kind.suggestion_agrees(suggested, human) for suggested, human in rows)
    return len(rows), round(agree / len(rows), 4)


def prelabel_metrics(session: Session, project: Project) -> Metrics:
    of_project = Suggestion.task_id.in_(select(Task.id).where(Task.project_id == project.id))
    by_mode: dict[str, int] = {}
    errors = tokens_in = tokens_out = 0
    cost = 0.0
    for mode, failed, n, c, t_in, t_out in session.execute(
        select(
            Suggestion.kind,
            Suggestion.error.is_not(None),
            func.count(),
            func.coalesce(func.sum(Suggestion.cost), 0.0),
            func.coalesce(func.sum(Suggestion.tokens_in), 0),
            func.coalesce(func.sum(Suggestion.tokens_out), 0),
        )
        .where(of_project, ~Suggestion.of_kind("score"))  # a reward model's scores are not pre-labels
        .group_by(Suggestion.kind, Suggestion.error.is_not(None))
    ).all():
        if failed:
            errors += int(n)
        else:
            by_mode[mode] = by_mode.get(mode, 0) + int(n)
        cost += float(c)
        tokens_in += int(t_in)
        tokens_out += int(t_out)
    origins = dict(
        session.execute(
            select(Annotation.origin, func.count())
            .where(Annotation.project_id == project.id, Annotation.suggestion_id.is_not(None))
            .group_by(Annotation.origin)
        ).all()
    )
    mean_distance = session.scalar(
        select(func.avg(Annotation.edit_distance)).where(
            Annotation.project_id == project.id, Annotation.suggestion_id.is_not(None)
        )
    )
    reviewed = sum(int(v) for v in origins.values())
    disagree = session.scalar(
        select(func.count()).where(
            of_project,
            Suggestion.of_kind("judge"),
            Suggestion.error.is_(None),
            Suggestion.result["orders_agree"].as_boolean().is_(False),
        )
    )
    judge_pairs, judge_agreement = _agreement(session, project, "judge")
    label_pairs, label_agreement = _agreement(session, project, "label")
    return Metrics(
        suggestions=sum(by_mode.values()),
        errors=errors,
        by_mode=by_mode,
        reviewed=reviewed,
        accepted=int(origins.get(ACCEPTED, 0)),
        edited=int(origins.get(EDITED, 0)),
        replaced=int(origins.get(REPLACED, 0)),
        acceptance_rate=round(origins.get(ACCEPTED, 0) / reviewed, 4) if reviewed else None,
        mean_edit_distance=round(float(mean_distance), 3) if mean_distance is not None else None,
        judge_human_pairs=judge_pairs,
        judge_human_agreement=judge_agreement,
        label_human_pairs=label_pairs,
        label_human_agreement=label_agreement,
        judge_orders_disagree=int(disagree or 0),
        cost=round(cost, 6),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
