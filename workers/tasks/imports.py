"""Thin shell: the job id in, the domain does the work and records it on the Job row."""

from __future__ import annotations

from app.imports.job import TASK_NAME, run_import_job
from workers.job_task import job_task


@job_task(TASK_NAME)
def import_tasks(job_id: int) -> str:
    return run_import_job(job_id)
