"""Scoring open tasks with a trained reward model, and ordering the queue by the scores (DESIGN §4.8).

A scoring Job runs on queue "gpu" (torch lives on the GPU workers; the embedded worker serves both
queues): it loads the Model, scores every response of the open tasks the way the reward trainer saw its
rows, stores one `score` Suggestion per task — `{"scores": {response id: reward}, "margin", "favourite"}` —
and, when the project orders its queue by scores, rewrites the open tasks' priorities. Safe to deliver
twice: a task this job already scored is not scored again.

Ordering reads the scores of the project's latest succeeded scoring job only, so one model's margins are
never ranked against another's. The imported priority is kept in `given_priority` while the loop orders
the queue, and comes back when the rule returns to `priority`. Changing the rule runs a small job on queue
"default" that reorders from the stored scores, with no model."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from app.auth import audit
from app.auth.policies import model_for, models_to_score_with
from app.core.db import DbId
from app.core.errors import InvalidInput
from app.jobs.runtime import create_job
from app.kinds import kind_of
from app.loop.priority import RULE_HELP, Scored, priorities
from app.loop.schemas import LatestScores, LoopJob, LoopSummary, MarginDistribution, ScoringModel
from app.models import Job, Project, Snapshot, Suggestion, Task, TrainedModel, User
from app.projects.service import count_tasks

SCORE_TASK = "loop.score"
BINS = 12


class ScoringRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: DbId = Field(description="a reward Model from a training run")
    task_ids: list[DbId] | None = Field(None, max_length=100_000, description="these tasks (default: open)")
    limit: int | None = Field(None, ge=1, le=10_000_000, description="at most this many open tasks")
    batch_size: int = Field(16, ge=1, le=1024)
    max_length: int = Field(1024, ge=16, le=131_072, description="tokens kept per response, from the end")


def check_scorable(project: Project) -> None:
    if not kind_of(project).compares_responses:
        raise InvalidInput(f"a {project.kind} project has no responses to compare: nothing to score")


def start_scoring(
    session: Session, *, project: Project, user: User, request: ScoringRequest
) -> tuple[Job, int]:
    """Queue a scoring job; returns it and how many tasks it will consider."""
    check_scorable(project)
    if project.archived_at is not None:
        raise InvalidInput("the project is archived; restore it to score its tasks")
    model = model_for(session, model_id=request.model_id, user=user)
    if model.method != "reward":
        raise InvalidInput(
            f"model {model.id} ({model.name}) is a {model.method} model; scoring needs a reward model",
            field="model_id",
        )
    if not Path(model.path).is_dir():
        raise InvalidInput(f"the files of model {model.id} are missing ({model.path})", field="model_id")
    snapshot = session.get(Snapshot, model.snapshot_id) if model.snapshot_id else None
    total = count_tasks(session, project, task_ids=request.task_ids, open_only=True, limit=request.limit)
    job = create_job(
        session,
        kind="scoring",
        task_name=SCORE_TASK,
        project_id=project.id,
        user_id=user.id,
        queue="gpu",
        params={
            "request": request.model_dump(mode="json"),
            "model": {"id": model.id, "name": model.name, "path": model.path},
            # how the snapshot the model learned from held its rows: chat messages or plain text
            "chat": bool(snapshot.manifest.get("chat")) if snapshot is not None else False,
        },
    )
    job.progress_message = f"queued: up to {total:,} tasks, scored by {model.name}"
    audit.record(
        session,
        "scoring.start",
        user_id=user.id,
        project_id=project.id,
        target=("job", job.id),
        model_id=model.id,
        tasks=total,
    )
    return job, total


def distribution(margins: list[float]) -> dict[str, Any]:
    """Summary and histogram of reward margins (equal-width bins up to the 99th percentile)."""
    if not margins:
        return {"count": 0, "bins": []}
    values = np.asarray(margins, dtype=float)
    top = float(np.percentile(values, 99)) or float(values.max()) or 1.0
    counts, edges = np.histogram(np.clip(values, 0.0, top), bins=BINS, range=(0.0, top))
    return {
        "count": int(values.size),
        "min": float(values.min()),
        "median": float(np.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": float(values.max()),
        "bins": [[float(edges[i]), float(edges[i + 1]), int(c)] for i, c in enumerate(counts)],
    }


# ------------------------------------------------------------------------------------------ ordering


def latest_scoring_job(session: Session, project_id: int) -> Job | None:
    return session.scalars(
        select(Job)
        .where(Job.project_id == project_id, Job.of_kind("scoring"), Job.status == "succeeded")
        .order_by(Job.id.desc())
        .limit(1)
    ).first()


def scored_open_tasks(session: Session, project_id: int, job_id: int, *, with_judge: bool) -> list[Scored]:
    rows = session.execute(
        select(Suggestion.task_id, Suggestion.result)
        .join(Task, Task.id == Suggestion.task_id)
        .where(
            Suggestion.job_id == job_id,
            Suggestion.of_kind("score"),
            Suggestion.error.is_(None),
            Task.status == "open",
        )
    ).all()
    judge: dict[int, str] = {}
    if with_judge:
        judged = session.execute(
            select(Suggestion.task_id, Suggestion.result)
            .join(Task, Task.id == Suggestion.task_id)
            .where(
                Task.project_id == project_id,
                Task.status == "open",
                Suggestion.of_kind("judge"),
                Suggestion.error.is_(None),
            )
            .order_by(Suggestion.id)
        )
        judge = {tid: str(result["choice"]) for tid, result in judged if result.get("choice")}
    return [
        Scored(tid, result["scores"], judge.get(tid))
        for tid, result in rows
        if len(result.get("scores", {})) >= 2
    ]


def apply_order(session: Session, project: Project) -> dict[str, Any]:
    """Rewrite the open tasks' priorities for the project's `queue_order` rule; returns what it did."""
    rule = str(project.settings.get("queue_order", "priority"))
    conn = session.connection()
    restored = conn.execute(
        update(Task)
        .where(Task.project_id == project.id, Task.given_priority.is_not(None))
        .values(priority=Task.given_priority, given_priority=None)
    ).rowcount
    done: dict[str, Any] = {"rule": rule, "help": RULE_HELP.get(rule, ""), "ordered": 0, "restored": restored}
    if rule == "priority":
        return done
    job = latest_scoring_job(session, project.id)
    if job is None:
        return {**done, "note": "no reward scores yet: the imported priorities stand"}
    items = scored_open_tasks(session, project.id, job.id, with_judge=rule == "disagreement")
    ranked = priorities(rule, items, seed=project.id)
    if ranked:
        conn.execute(
            update(Task)
            .where(Task.id == bindparam("tid"))
            .values(given_priority=Task.priority, priority=bindparam("rank")),
            [{"tid": tid, "rank": rank} for tid, rank in ranked.items()],
        )
    judged = sum(1 for s in items if s.judge is not None)
    return {
        **done,
        "ordered": len(ranked),
        "scoring_job_id": job.id,
        **({"judged": judged} if rule == "disagreement" else {}),
    }


# ------------------------------------------------------------------------------------------ reading


def reward_models(session: Session, project: Project, user: User) -> list[TrainedModel]:
    """Reward models the user may score this project with (policies.models_to_score_with)."""
    stmt = models_to_score_with(user, project).where(TrainedModel.method == "reward")
    return list(session.scalars(stmt.order_by(TrainedModel.id.desc()).limit(100)))


def loop_summary(session: Session, project: Project) -> LoopSummary:
    """What the project page shows: the ordering rule, the latest scores and their distribution."""
    rule = str(project.settings.get("queue_order", "priority"))
    latest = latest_scoring_job(session, project.id)
    running = session.scalars(
        _loop_jobs(project).where(Job.status.in_(("queued", "running"))).order_by(Job.id.desc())
    ).all()
    ordered = int(
        session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.project_id == project.id, Task.status == "open", Task.given_priority.is_not(None))
        )
        or 0
    )
    scores = None
    if latest is not None:
        model = latest.result.get("model") or latest.params.get("model")
        scores = LatestScores(
            job_id=latest.id,
            finished_at=latest.finished_at,
            model=ScoringModel.model_validate(model) if model else None,
            scored=latest.result.get("scored", 0),
            skipped=latest.result.get("skipped_fewer_than_two_responses", 0),
            distribution=MarginDistribution.model_validate(
                latest.result.get("distribution") or {"count": 0, "bins": []}
            ),
        )
    return LoopSummary(
        scorable=kind_of(project).compares_responses,
        rule=rule,
        rule_help=RULE_HELP.get(rule, ""),
        ordered_open_tasks=ordered,
        scores=scores,
        running=[_loop_job(j) for j in running],
    )


def _loop_jobs(project: Project) -> Select[Job]:
    return select(Job).where(Job.project_id == project.id, Job.of_kind("scoring", "ordering"))


def _loop_job(job: Job) -> LoopJob:
    return LoopJob(id=job.id, kind=job.kind, status=job.status, progress=job.progress)


def loop_jobs(session: Session, project: Project, job_ids: Collection[int]) -> list[LoopJob]:
    """The project's scoring and ordering jobs among `job_ids`, newest first, whatever their state: the
    Loop tab goes on showing the jobs it watched once they end."""
    if not job_ids:
        return []
    stmt = _loop_jobs(project).where(Job.id.in_(sorted(job_ids)[-20:])).order_by(Job.id.desc())
    return [_loop_job(j) for j in session.scalars(stmt)]
