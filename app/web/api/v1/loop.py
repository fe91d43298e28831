"""Closing the loop (DESIGN §4.8): scoring open tasks with a reward model, the queue order it sets, the
project's rounds, and the leaderboard of the models behind the responses."""

from __future__ import annotations

from fastapi import APIRouter

from app.loop import rounds, scoring
from app.loop.leaderboard import project_leaderboard
from app.loop.schemas import (
    Leaderboard,
    LoopSummary,
    RoundCreate,
    RoundList,
    RoundRead,
    RoundUpdate,
    ScoringStarted,
)
from app.web.deps import CurrentUser, IdPath, ProjectAsLead, ProjectAsReviewer, SessionDep

router = APIRouter(tags=["loop"])


@router.post("/projects/{pid}/scoring", status_code=202)
def start_scoring(
    body: scoring.ScoringRequest, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> ScoringStarted:
    """Score the open tasks' responses with a reward Model; the queue follows the project's `queue_order`."""
    job, total = scoring.start_scoring(session, project=project, user=user, request=body)
    return ScoringStarted(job_id=job.id, tasks=total)


# Fields a job did not record (the margins of a job that scored nothing) stay out, as the job left them.
@router.get("/projects/{pid}/scoring", response_model_exclude_unset=True)
def scoring_summary(project: ProjectAsReviewer, session: SessionDep) -> LoopSummary:
    """The ordering rule, the latest scores' distribution, and scoring jobs under way."""
    return scoring.loop_summary(session, project)


@router.get("/projects/{pid}/leaderboard")
def leaderboard(project: ProjectAsReviewer, session: SessionDep) -> Leaderboard:
    """Bradley-Terry strengths of the models behind the responses, from human votes and from the judge."""
    return project_leaderboard(session, project)


@router.get("/projects/{pid}/rounds")
def list_rounds(project: ProjectAsReviewer, session: SessionDep) -> RoundList:
    return rounds.rounds_view(session, project)


@router.post("/projects/{pid}/rounds", status_code=201)
def start_round(
    body: RoundCreate, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> RoundRead:
    """Close the open round, freezing its figures, and open the next one."""
    created = rounds.start_round(session, project=project, user=user, data=body)
    return rounds.round_view(session, project, created)


@router.patch("/projects/{pid}/rounds/{rid}")
def update_round(
    rid: IdPath, body: RoundUpdate, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> RoundRead:
    """Name a round, or tie a snapshot, a reward model and a policy to it."""
    found = rounds.round_for(session, project=project, round_id=rid)
    rounds.update_round(session, project=project, round_=found, data=body, user=user)
    return rounds.round_view(session, project, found)
