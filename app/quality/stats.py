"""A project's quality figures (DESIGN §4.5): progress, throughput, agreement, position bias, gold accuracy,
time per task, rewrites, and the same per annotator, with the flags a lead acts on. Each figure is computed in
app/quality/figures.py; `stats_for` keeps them in project_stats and recomputes them when they are older than
a project-size dependent age, so the dashboard answers at once on a project of a million annotations."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.jobs.runtime import create_job
from app.kinds import kind_of
from app.models import Job, Project, ProjectStats, utcnow
from app.prelabel.metrics import prelabel_metrics
from app.prelabel.schemas import Metrics
from app.quality import figures, metrics, task_figures
from app.quality.figures import sample_answers
from app.quality.task_agreement import refresh_agreement


def trusted_agreement(session: Session, project: Project, leave_out: set[int]) -> dict[int, metrics.Figure]:
    """Agreement with the majority of the others, counting only annotators not left out (flagged ones would
    drag the careful annotators' figures down with them)."""
    nominal, _ = sample_answers(project, figures.agreement_sample(session, project))
    agreement = metrics.majority_agreement([a for a in nominal if a[0] not in leave_out])
    return {int(str(coder)): figure for coder, figure in agreement.items()}


def agreement_parts(project: Project, sample: figures.Sample) -> list[dict[str, Any]]:
    """Agreement part by part, where the kind's answers have parts (a trajectory's steps): each part's
    alpha and percent agreement, without intervals (a bootstrap per part would cost more than the rest)."""
    kind, settings = kind_of(project), project.settings
    parts: dict[str, list[metrics.Answer]] = {}
    for tid, uid, result, _ in sample:
        for part, units in kind.agreement_parts(tid, result, settings).items():
            parts.setdefault(part, []).extend((uid, unit, value) for unit, value in units.items())
    return [
        {
            "part": part,
            "alpha": metrics.krippendorff_alpha(answers, "nominal", bootstrap=0).as_dict(),
            "percent": metrics.percent_agreement(answers, bootstrap=0).as_dict(),
        }
        for part, answers in parts.items()
    ]


def compute_stats(session: Session, project: Project) -> dict[str, Any]:
    started = time.perf_counter()
    floor_ms = float(project.settings.get("min_seconds_per_task", 2.0)) * 1000
    people = figures.per_annotator(session, project, floor_ms)
    sample = figures.agreement_sample(session, project)
    nominal, ordinal = sample_answers(project, sample)
    evidence = figures.Evidence(
        nominal=nominal,
        gold=figures.gold_scores(session, project),
        position=figures.position_counts(session, project),
        judge=figures.judge_counts(session, project),
        rewrites=figures.rewrite_counts(session, project),
    )
    return {
        "project_id": project.id,
        "kind": str(project.kind),
        "computed_at": utcnow().isoformat(),
        "progress": figures.progress(session, project, people),
        "throughput": figures.throughput(session, project),
        "agreement": {
            **figures.agreement(sample, nominal, ordinal, evidence.judge),
            "parts": agreement_parts(project, sample),
        },
        "position_bias": figures.position_bias(project, evidence.position),
        "gold": figures.gold(session, project, evidence.gold),
        "time": figures.time_spent(people, floor_ms),
        "rewrites": figures.rewrites(session, project, evidence.rewrites),
        "annotators": figures.annotator_rows(session, project, people, evidence),
        "prelabel": prelabel_metrics(session, project).model_dump(mode="json"),
        "compute_ms": round((time.perf_counter() - started) * 1000),
    }


LARGE = 20_000  # annotations above which a stale figure is served at once and refreshed by a job


def max_age(annotations: int) -> timedelta:
    """How old cached figures may be: seconds on a small project, a minute on a large one."""
    return timedelta(seconds=2 if annotations < LARGE else 60)


def store_stats(session: Session, project: Project) -> dict[str, Any]:
    refresh_agreement(session, project)  # each task's own figure, for the data manager, kept with the rest
    task_figures.refresh(session, project)  # the review queue's order and the leaderboard's games
    data = compute_stats(session, project)
    values = {
        "computed_at": utcnow(),
        "annotation_count": data["progress"]["annotations"],
        "compute_ms": data["compute_ms"],
        "data": data,
    }
    try:
        with session.begin_nested():  # two requests refreshing at once: the second one's insert loses
            cached = session.get(ProjectStats, project.id)
            if cached is None:
                session.add(ProjectStats(project_id=project.id, **values))
            else:
                for key, value in values.items():
                    setattr(cached, key, value)
    except IntegrityError:
        pass
    return data


def stats_for(session: Session, project: Project, *, refresh: bool = False) -> dict[str, Any]:
    """The cached figures when fresh enough; else recomputed now (small projects, or refresh=True), or
    served as they are while a job recomputes them (large projects)."""
    cached = session.get(ProjectStats, project.id)
    if cached is not None and not refresh:
        age = utcnow() - cached.computed_at
        if age < max_age(cached.annotation_count):
            return {**cached.data, "cached": True, "stale": False}
        if cached.annotation_count >= LARGE:
            request_refresh(session, project)
            return {**cached.data, "cached": True, "stale": True}
    return {**store_stats(session, project), "cached": False, "stale": False}


def prelabel_figures(session: Session, project: Project) -> Metrics:
    """The pre-label page's figures: computed now on a small project; on a large one, kept with the
    dashboard's figures (they read every suggestion and every answer) and refreshed by the same job."""
    cached = session.get(ProjectStats, project.id)
    if cached is None or cached.annotation_count < LARGE or "prelabel" not in cached.data:
        return prelabel_metrics(session, project)
    if utcnow() - cached.computed_at >= max_age(cached.annotation_count):
        request_refresh(session, project)
    return Metrics.model_validate(cached.data["prelabel"])


def request_refresh(session: Session, project: Project) -> None:
    """One refresh job at a time per project."""
    busy = session.scalar(
        select(Job.id).where(
            Job.project_id == project.id, Job.of_kind("stats"), Job.status.in_(("queued", "running"))
        )
    )
    if busy is None:
        create_job(
            session, kind="stats", task_name=STATS_TASK, params={}, project_id=project.id, user_id=None
        )


STATS_TASK = "quality.stats"
