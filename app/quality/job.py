"""The stats Job: recomputes a large project's dashboard figures in the background (app/quality/stats.py)."""

from __future__ import annotations

from app.core.db import session_scope
from app.jobs.runtime import run_job
from app.models import Project
from app.quality.stats import store_stats


def run_stats_job(job_id: int) -> str:
    with run_job(job_id, "stats", failure="the figures could not be computed: {error}") as run:
        if run is None:
            return "skipped"
        with session_scope() as session:
            data = store_stats(session, session.get_one(Project, run.project_id))
            run.finish_in(session, "succeeded", result={"compute_ms": data["compute_ms"]})
    return run.status
