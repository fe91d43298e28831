"""Review and quality (DESIGN §4.4-4.5, §10 stats): reviews of annotations, the review queue, gold answers,
paused annotators, and the project's figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.policies import project_for, task_for, within_project
from app.core.errors import NotFound
from app.labeling.pausing import resume
from app.labeling.service import annotation_by_uuid
from app.models import Annotation, Role, Task
from app.quality import reviews
from app.quality.own import own_figures
from app.quality.review_queue import QueueFilters, review_queue
from app.quality.schemas import (
    GoldRead,
    GoldSet,
    MemberResumed,
    OwnFiguresRead,
    QueueItemRead,
    ReviewCreate,
    ReviewRead,
    StatsRead,
)
from app.quality.stats import stats_for
from app.web.api.v1.pagination import Cursor, Limit, Page
from app.web.deps import (
    CurrentUser,
    IdPath,
    IdQuery,
    ProjectAsAnnotator,
    ProjectAsLead,
    ProjectAsReviewer,
    SessionDep,
)

router = APIRouter(tags=["quality"])


def get_reviewable(uuid: str, user: CurrentUser, session: SessionDep) -> Annotation:
    annotation = annotation_by_uuid(session, uuid)
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
    return [ReviewRead.model_validate(r) for r in reviews.review_history(session, annotation)]


@router.get("/projects/{pid}/review-queue")
def get_review_queue(
    project: ProjectAsReviewer,
    session: SessionDep,
    annotator: IdQuery = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[QueueItemRead]:
    """Tasks with answers to review, most disagreement first, then most misses against gold, then oldest."""
    filters = QueueFilters(annotator=annotator, answer=label, since=since, until=until)
    page = review_queue(session, project, filters, cursor=cursor, limit=limit)
    return Page(items=[QueueItemRead.model_validate(i) for i in page.items], next_cursor=page.next_cursor)


def get_task_as_lead(tid: IdPath, user: CurrentUser, session: SessionDep) -> Task:
    return task_for(session, task_id=tid, user=user, need=Role.lead)


@router.put("/tasks/{tid}/gold")
def set_gold(body: GoldSet, task: Annotated[Task, Depends(get_task_as_lead)], user: CurrentUser,
             session: SessionDep) -> GoldRead:  # fmt: skip
    project = project_for(session, project_id=task.project_id, user=user, need=Role.lead)
    reviews.set_gold(session, task=task, project=project, gold=body.gold, user=user)
    return GoldRead(id=task.id, gold=task.gold)


@router.post("/projects/{pid}/members/{user_id}/resume")
def resume_member(
    user_id: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> MemberResumed:
    member = resume(session, project=project, user_id=user_id, by=user)
    return MemberResumed(user_id=member.user_id, paused=member.paused_at is not None)


@router.get("/projects/{pid}/stats")
def project_stats(project: ProjectAsReviewer, session: SessionDep, refresh: bool = False) -> StatsRead:
    return StatsRead.model_validate(stats_for(session, project, refresh=refresh))


@router.get("/projects/{pid}/my-stats")
def my_stats(project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> OwnFiguresRead:
    """The caller's own figures (throughput, gold accuracy, agreement), beside the project's."""
    return OwnFiguresRead.model_validate(own_figures(stats_for(session, project), user.id))
