"""Thin shell: recompute a project's dashboard figures in the background (large projects)."""

from __future__ import annotations

from app.quality.job import run_stats_job
from app.quality.stats import STATS_TASK
from workers.job_task import job_task


@job_task(STATS_TASK)
def refresh_stats(job_id: int) -> str:
    return run_stats_job(job_id)
