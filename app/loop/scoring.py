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

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from app.auth.policies import model_for, models_to_score_with
from app.core import audit
from app.core.db import session_scope
from app.core.errors import InvalidInput
from app.core.jobs import append_log, claim_job, create_job, finish_job
from app.exports.formats import as_messages, as_text
from app.kinds import kind_of
from app.loop.priority import RULE_HELP, Scored, favourite, margin, priorities
from app.loop.schemas import LatestScores, LoopJob, LoopSummary, MarginDistribution, ScoringModel
from app.models import Job, Project, Snapshot, Suggestion, Task, TrainedModel, User, utcnow
from app.projects.service import count_tasks

SCORE_TASK = "loop.score"
PAGE = 256
BINS = 12


class ScoringRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: int = Field(description="a reward Model from a training run")
    task_ids: list[int] | None = Field(None, max_length=100_000, description="these tasks (default: open)")
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


# ------------------------------------------------------------------------------------------ the job


def _pages(project_id: int, job_id: int, request: ScoringRequest) -> Any:
    """Pages of (id, prompt, responses) this job has not scored yet, in id order."""
    mine = exists().where(Suggestion.task_id == Task.id, Suggestion.job_id == job_id)
    cols = (Task.id, Task.prompt, Task.responses)
    base = select(*cols).where(Task.project_id == project_id, ~mine).order_by(Task.id)
    if request.task_ids is not None:
        ids = sorted(set(request.task_ids))
        for start in range(0, len(ids), PAGE):
            with session_scope() as session:
                rows = session.execute(base.where(Task.id.in_(ids[start : start + PAGE]))).all()
            yield rows
        return
    cursor, left = 0, request.limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        with session_scope() as session:
            rows = session.execute(base.where(Task.status == "open", Task.id > cursor).limit(size)).all()
        if not rows:
            return
        yield rows
        cursor = rows[-1][0]
        left = None if left is None else left - len(rows)


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


def _finish(job_id: int, status: str, *, log: str, error: str | None = None, **result: Any) -> str:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        finish_job(job, status, error=error)
        job.result = {**job.result, **result}
        append_log(job, log)
    return status


def run_scoring_job(job_id: int) -> str:
    with session_scope() as session:
        job = claim_job(session, job_id, "scoring")
        if job is None or job.project_id is None:
            return "skipped"
        params, project_id = dict(job.params), job.project_id
        append_log(job, f"attempt {job.attempts}: scoring with {params['model']['name']}")
    request = ScoringRequest.model_validate(params["request"])
    chat = bool(params.get("chat"))
    try:
        from workers.trainers.score import RewardScorer
    except ImportError as exc:
        return _finish(
            job_id,
            "failed",
            error=f"this worker cannot score: {exc}; install the train extra (torch, transformers)",
            log="no torch",
        )
    try:
        scorer = RewardScorer(
            params["model"]["path"], chat=chat, max_length=request.max_length, batch_size=request.batch_size
        )
    except Exception as exc:
        return _finish(
            job_id, "failed", error=f"could not load the reward model: {exc}", log=type(exc).__name__
        )
    with session_scope() as session:
        project = session.get_one(Project, project_id)
        total = (
            len(set(request.task_ids))
            if request.task_ids is not None
            else count_tasks(session, project, task_ids=None, open_only=True, limit=request.limit)
        )
    scored = skipped = 0
    margins: list[float] = []
    try:
        for rows in _pages(project_id, job_id, request):
            pairs: list[tuple[str | list[dict[str, str]], str]] = []
            owners: list[tuple[int, str]] = []
            for task_id, prompt, responses in rows:
                if len(responses or []) < 2:
                    skipped += 1
                    continue
                shaped = as_messages(prompt) if chat else as_text(prompt)
                for response in responses:
                    pairs.append((shaped, str(response.get("text", ""))))
                    owners.append((task_id, str(response["id"])))
            scores: dict[int, dict[str, float]] = {}
            for (task_id, rid), value in zip(owners, scorer.score(pairs), strict=True):
                scores.setdefault(task_id, {})[rid] = round(value, 6)
            now = utcnow()
            suggestions = []
            for task_id, by_id in scores.items():
                gap = margin(by_id)
                margins.append(gap)
                suggestions.append(
                    {
                        "task_id": task_id,
                        "job_id": job_id,
                        "kind": "score",
                        "result": {"scores": by_id, "margin": round(gap, 6), "favourite": favourite(by_id)},
                        "model": params["model"]["name"][:200],
                        "created_at": now,
                    }
                )
            scored += len(suggestions)
            with session_scope() as session:
                if suggestions:
                    session.connection().execute(insert(Suggestion), suggestions)
                job = session.get_one(Job, job_id)
                done = scored + skipped
                job.progress = min(done / max(total, 1), 0.99)
                job.progress_message = (
                    f"{done:,} of {total:,} tasks · {scored:,} scored · {skipped:,} skipped"
                )
                if job.cancel_requested:
                    finish_job(job, "cancelled")
                    append_log(job, f"cancelled after {scored} tasks; the queue order was left as it was")
                    return "cancelled"
    except Exception as exc:
        return _finish(job_id, "failed", error=f"scoring stopped: {exc}", log=type(exc).__name__)
    finally:
        scorer.close()
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        job.result = {
            "scored": scored,
            "skipped_fewer_than_two_responses": skipped,
            "model": params["model"],
            "distribution": distribution(margins),
        }
        finish_job(job, "succeeded")  # first, so ordering reads this job as the latest
        session.flush()
        project = session.get_one(Project, project_id)
        order = apply_order(session, project)
        job.result = {**job.result, "order": order}
        append_log(job, f"scored {scored} tasks ({skipped} skipped); queue order: {order['rule']}")
    return "succeeded"


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


def run_order_job(job_id: int) -> str:
    with session_scope() as session:
        job = claim_job(session, job_id, "ordering")
        if job is None or job.project_id is None:
            return "skipped"
        project = session.get_one(Project, job.project_id)
        job.result = apply_order(session, project)
        finish_job(job, "succeeded")
        append_log(job, f"queue order {job.result['rule']}: {job.result['ordered']} tasks ordered")
    return "succeeded"


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
        select(Job)
        .where(
            Job.project_id == project.id,
            Job.of_kind("scoring", "ordering"),
            Job.status.in_(("queued", "running")),
        )
        .order_by(Job.id.desc())
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
        running=[LoopJob(id=j.id, kind=j.kind, status=j.status, progress=j.progress) for j in running],
    )
