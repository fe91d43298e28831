"""Thin shell: the job id in, the domain does the work and records it on the Job and Snapshot rows."""

from __future__ import annotations

from app.exports.job import run_export_job
from app.exports.service import TASK_NAME
from workers.job_task import job_task


@job_task(TASK_NAME)
def export_snapshot(job_id: int) -> str:
    return run_export_job(job_id)
