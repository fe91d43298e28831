"""Training curves as data for the browser's charts (app/quality/charts.py's Chart, drawn by static/charts.js
with uPlot): one chart per metric, one line per run. A job's page shows its run; /jobs/compare lays several
runs over each other on the same axes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, JobMetric
from app.quality.charts import Chart, Line, key_of

# The curves a training page shows first; any other logged metric follows.
PREFERRED = ["loss", "eval_loss", "rewards/accuracies", "accuracy", "rewards/margins", "margin", "kl",
             "mean_token_accuracy", "learning_rate", "grad_norm"]  # fmt: skip
HIDDEN = {"epoch", "num_tokens"}  # bookkeeping, not curves anyone reads
# A page polls its running job every second: past this many steps a chart keeps, per slice of steps, the
# lowest and the highest point of each line (so no spike disappears) rather than every point.
MAX_POINTS = 1500


def run_label(job: Job) -> str:
    """How a run is named in a legend: its job, method and base model (the last part of a path)."""
    method = str(job.params.get("method") or "")
    base = str(job.params.get("base_model") or "").rstrip("/").rsplit("/", 1)[-1]
    return " · ".join(part for part in (f"#{job.id}", method, base) if part)


def job_charts(session: Session, job: Job, *, limit: int = 12) -> list[Chart]:
    return run_charts(session, [job], group=f"job-{job.id}", limit=limit)


def run_charts(session: Session, jobs: Sequence[Job], *, group: str, limit: int = 12) -> list[Chart]:
    """One chart per metric any of the runs logged (the preferred ones first), each run a line on it."""
    rows = session.execute(
        select(JobMetric.job_id, JobMetric.name, JobMetric.step, JobMetric.value)
        .where(JobMetric.job_id.in_([job.id for job in jobs]))
        .order_by(JobMetric.id)  # a step logged twice keeps its last value
    ).all()
    by_name: dict[str, dict[int, dict[int, float]]] = {}
    for job_id, name, step, value in rows:
        if name not in HIDDEN:
            by_name.setdefault(name, {}).setdefault(job_id, {})[step] = value
    names = sorted(by_name, key=lambda n: (PREFERRED.index(n) if n in PREFERRED else len(PREFERRED), n))
    charts = []
    for name in names[:limit]:
        runs = by_name[name]
        steps = sorted({step for points in runs.values() for step in points})
        lines = [Line(run_label(job), [runs.get(job.id, {}).get(step) for step in steps]) for job in jobs]
        keep = _decimated(steps, lines)
        charts.append(
            Chart(
                key=key_of(name),
                title=name,
                x=[float(steps[i]) for i in keep],
                lines=[
                    Line(line.label, [line.values[i] for i in keep], count=len(line.points()))
                    for line in lines
                ],
                group=group,
            )
        )
    return charts


def _decimated(steps: list[int], lines: list[Line]) -> list[int]:
    """The indices to keep: all of them up to MAX_POINTS; past that, per slice, the first index and each
    line's lowest and highest point, and always the last index (where a running job is now)."""
    if len(steps) <= MAX_POINTS:
        return list(range(len(steps)))
    keep = {0, len(steps) - 1}
    slice_size = len(steps) * 3 // MAX_POINTS + 1
    for start in range(0, len(steps), slice_size):
        window = range(start, min(start + slice_size, len(steps)))
        keep.add(start)
        for line in lines:
            present = [i for i in window if line.values[i] is not None]
            if present:
                keep.add(min(present, key=lambda i: line.values[i] or 0.0))
                keep.add(max(present, key=lambda i: line.values[i] or 0.0))
    return sorted(keep)


def runs_beside(session: Session, job: Job, *, limit: int = 30) -> list[Job]:
    """The project's other training runs, newest first: what a run's page offers to compare it with."""
    if job.project_id is None:
        return []
    stmt = (
        select(Job)
        .where(Job.of_kind("training"), Job.project_id == job.project_id, Job.id != job.id)
        .order_by(Job.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
