"""Thin shell: recompute a project's dashboard figures in the background (large projects)."""

from __future__ import annotations

from app.quality.stats import STATS_TASK, run_stats_job
from workers.celery_app import celery


@celery.task(name=STATS_TASK)
def refresh_stats(job_id: int) -> str:
    return run_stats_job(job_id)
