"""Closing the loop (DESIGN §4.8): scoring open tasks with a reward model, the queue order it sets, and the
project's rounds. The leaderboard lives with the quality routes (`/projects/{pid}/leaderboard`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.auth.deps import CurrentUser, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.loop import rounds, scoring

router = APIRouter(tags=["loop"])


@router.post("/projects/{pid}/scoring", status_code=202)
def start_scoring(
    body: scoring.ScoringRequest, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> dict[str, int]:
    """Score the open tasks' responses with a reward Model; the queue follows the project's `queue_order`."""
    job, total = scoring.start_scoring(session, project=project, user=user, request=body)
    return {"job_id": job.id, "tasks": total}


@router.get("/projects/{pid}/scoring")
def scoring_summary(project: ProjectAsReviewer, session: SessionDep) -> dict[str, Any]:
    """The ordering rule, the latest scores' distribution, and scoring jobs under way."""
    return scoring.loop_summary(session, project)


@router.get("/projects/{pid}/rounds")
def list_rounds(project: ProjectAsReviewer, session: SessionDep) -> dict[str, Any]:
    return {"items": rounds.rounds_view(session, project)}


@router.post("/projects/{pid}/rounds", status_code=201)
def start_round(
    body: rounds.RoundCreate, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Close the open round, freezing its figures, and open the next one."""
    created = rounds.start_round(session, project=project, user=user, data=body)
    return rounds.round_view(session, project, created)


@router.patch("/projects/{pid}/rounds/{rid}")
def update_round(
    rid: int, body: rounds.RoundUpdate, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Name a round, or tie a snapshot, a reward model and a policy to it."""
    found = rounds.round_for(session, project=project, round_id=rid)
    rounds.update_round(session, project=project, round_=found, data=body, user=user)
    return rounds.round_view(session, project, found)
