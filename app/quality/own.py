"""An annotator's own figures (the "me" page and GET /projects/{pid}/my-stats): their row of the dashboard
beside the project's, never the others' rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Annotation, Project, User


def own_figures(stats: dict[str, Any], user_id: int) -> dict[str, Any]:
    mine = next((a for a in stats["annotators"] if a["user_id"] == user_id), None)
    return {
        "me": mine,
        "project": {"agreement": stats["agreement"], "gold": stats["gold"], "progress": stats["progress"]},
        "throughput": stats["throughput"] if mine is None else None,
        "computed_at": stats["computed_at"],
    }


def daily_answers(session: Session, project: Project, user: User) -> list[tuple[str, int]]:
    """(day, answers) for each day the user answered in the project, oldest first."""
    day = func.date(Annotation.created_at)
    rows = session.execute(
        select(day, func.count())
        .where(Annotation.project_id == project.id, Annotation.user_id == user.id)
        .group_by(day)
        .order_by(day)
    ).all()
    return [(str(d), int(n)) for d, n in rows]
