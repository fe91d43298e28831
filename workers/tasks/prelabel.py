"""Thin shell: the job id in; the domain sends the requests and records suggestions, progress and cost."""

from __future__ import annotations

from app.prelabel.job import run_prelabel_job
from app.prelabel.service import TASK_NAME
from workers.job_task import job_task


@job_task(TASK_NAME)
def prelabel(job_id: int) -> str:
    return run_prelabel_job(job_id)
