"""Thin shell on queue "gpu": the job id in; the trainer runs in its own process (app/training/job.py)."""

from __future__ import annotations

from app.training.job import run_training_job
from app.training.service import TASK_NAME
from workers.job_task import job_task


@job_task(TASK_NAME)
def train(job_id: int) -> str:
    return run_training_job(job_id)
