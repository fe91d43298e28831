"""Review and quality (DESIGN §4.4-4.5, §10 stats): reviews of annotations, the review queue, gold answers,
paused annotators, and the project's figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from app.auth.deps import CurrentUser, ProjectAsAnnotator, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.auth.policies import project_for, task_for, within_project
from app.core.errors import NotFound
from app.models import Annotation, Review, Role, Task
from app.quality import reviews
from app.quality.schemas import GoldSet, QueueItemRead, QueuePage, ReviewCreate, ReviewRead
from app.quality.stats import stats_for

router = APIRouter(tags=["quality"])


def get_reviewable(uuid: str, user: CurrentUser, session: SessionDep) -> Annotation:
    annotation = session.scalar(select(Annotation).where(Annotation.uuid == uuid))
    if annotation is None:
        raise NotFound("annotation not found")
    within_project(
        session,
        project_id=annotation.project_id,
        user=user,
        need=Role.reviewer,
        missing="annotation not found",
    )
    return annotation


ReviewableAnnotation = Annotated[Annotation, Depends(get_reviewable)]


@router.post("/annotations/{uuid}/reviews", status_code=201)
def review(
    body: ReviewCreate, annotation: ReviewableAnnotation, user: CurrentUser, session: SessionDep
) -> ReviewRead:
    made = reviews.review_annotation(
        session,
        annotation=annotation,
        reviewer=user,
        verdict=body.verdict,
        result=body.result,
        comment=body.comment,
    )
    return ReviewRead.model_validate(made)


@router.get("/annotations/{uuid}/reviews")
def review_history(annotation: ReviewableAnnotation, session: SessionDep) -> list[ReviewRead]:
    rows = session.scalars(select(Review).where(Review.annotation_id == annotation.id).order_by(Review.id))
    return [ReviewRead.model_validate(r) for r in rows]


@router.get("/projects/{pid}/review-queue")
def review_queue(
    project: ProjectAsReviewer,
    session: SessionDep,
    annotator: int | None = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePage:
    items = reviews.review_queue(
        session,
        project,
        annotator=annotator,
        label=label,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
    return QueuePage(
        items=[QueueItemRead.model_validate(i) for i in items],
        next_offset=offset + limit if len(items) == limit else None,
    )


def get_task_as_lead(tid: int, user: CurrentUser, session: SessionDep) -> Task:
    return task_for(session, task_id=tid, user=user, need=Role.lead)


@router.put("/tasks/{tid}/gold")
def set_gold(body: GoldSet, task: Annotated[Task, Depends(get_task_as_lead)], user: CurrentUser,
             session: SessionDep) -> dict[str, Any]:  # fmt: skip
    project = project_for(session, project_id=task.project_id, user=user, need=Role.lead)
    reviews.set_gold(session, task=task, project=project, gold=body.gold, user=user)
    return {"id": task.id, "gold": task.gold}


@router.post("/projects/{pid}/members/{user_id}/resume")
def resume_member(
    user_id: int, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    member = reviews.resume(session, project=project, user_id=user_id, by=user)
    return {"user_id": member.user_id, "paused": member.paused_at is not None}


@router.get("/projects/{pid}/stats")
def project_stats(project: ProjectAsReviewer, session: SessionDep, refresh: bool = False) -> dict[str, Any]:
    return stats_for(session, project, refresh=refresh)


@router.get("/projects/{pid}/my-stats")
def my_stats(project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The caller's own figures (throughput, gold accuracy, agreement), beside the project's."""
    return own_figures(stats_for(session, project), user.id)


def own_figures(stats: dict[str, Any], user_id: int) -> dict[str, Any]:
    mine = next((a for a in stats["annotators"] if a["user_id"] == user_id), None)
    return {
        "me": mine,
        "project": {"agreement": stats["agreement"], "gold": stats["gold"], "progress": stats["progress"]},
        "throughput": stats["throughput"] if mine is None else None,
        "computed_at": stats["computed_at"],
    }
