"""The loop's Jobs, on the worker: scoring open tasks with a reward model (queue "gpu": torch), and
reordering the queue from stored scores (queue "default"). What they compute is app/loop/scoring.py's."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from sqlalchemy import exists, insert, select

from app.core.db import session_scope
from app.exports.formats import as_messages, as_text
from app.jobs.runtime import JobCancelled, append_log, run_job
from app.loop.priority import favourite, margin
from app.loop.scoring import ScoringRequest, apply_order, distribution
from app.models import Project, Suggestion, Task, utcnow
from app.projects.service import count_tasks

PAGE = 256


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


def run_scoring_job(job_id: int) -> str:
    with run_job(job_id, "scoring", failure="scoring stopped: {error}") as run:
        if run is None:
            return "skipped"
        params, project_id = run.params, run.project_id
        assert project_id is not None
        run.log(f"attempt {run.attempts}: scoring with {params['model']['name']}")
        request = ScoringRequest.model_validate(params["request"])
        chat = bool(params.get("chat"))
        try:
            from mlcore.score import RewardScorer
        except ImportError as exc:
            return run.fail(
                f"this worker cannot score: {exc}; install the train extra (torch, transformers)",
                log="no torch",
            )
        try:
            scorer = RewardScorer(  # reports no progress: run_job's lease beats meanwhile
                params["model"]["path"],
                chat=chat,
                max_length=request.max_length,
                batch_size=request.batch_size,
            )
        except Exception as exc:
            return run.fail(f"could not load the reward model: {exc}", log=type(exc).__name__)
        with session_scope() as session:
            project = session.get_one(Project, project_id)
            total = (
                len(set(request.task_ids))
                if request.task_ids is not None
                else count_tasks(session, project, task_ids=None, open_only=True, limit=request.limit)
            )
        scored = skipped = 0
        margins: list[float] = []
        with closing(scorer):
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
                            "result": {
                                "scores": by_id,
                                "margin": round(gap, 6),
                                "favourite": favourite(by_id),
                            },
                            "model": params["model"]["name"][:200],
                            "created_at": now,
                        }
                    )
                scored += len(suggestions)
                if suggestions:
                    with session_scope() as session:
                        session.connection().execute(insert(Suggestion), suggestions)
                done = scored + skipped
                try:
                    run.progress(
                        done / max(total, 1),
                        f"{done:,} of {total:,} tasks · {scored:,} scored · {skipped:,} skipped",
                    )
                except JobCancelled:
                    return run.cancel(
                        log=f"cancelled after {scored} tasks; the queue order was left as it was"
                    )
        with session_scope() as session:
            job = run.finish_in(  # first, so ordering reads this job as the latest
                session,
                "succeeded",
                result={
                    "scored": scored,
                    "skipped_fewer_than_two_responses": skipped,
                    "model": params["model"],
                    "distribution": distribution(margins),
                },
            )
            session.flush()
            order = apply_order(session, session.get_one(Project, project_id))
            job.result = {**job.result, "order": order}
            append_log(job, f"scored {scored} tasks ({skipped} skipped); queue order: {order['rule']}")
    return run.status


def run_order_job(job_id: int) -> str:
    with run_job(job_id, "ordering") as run:
        if run is None:
            return "skipped"
        with session_scope() as session:
            result = apply_order(session, session.get_one(Project, run.project_id))
            run.finish_in(
                session,
                "succeeded",
                result=result,
                log=f"queue order {result['rule']}: {result['ordered']} tasks ordered",
            )
    return run.status
