"""Thin shells: scoring with a reward model (queue "gpu": torch), reordering the queue (queue "default")."""

from __future__ import annotations

from app.loop.job import run_order_job, run_scoring_job
from app.loop.scoring import SCORE_TASK
from app.projects.service import ORDER_TASK
from workers.job_task import job_task


@job_task(SCORE_TASK)
def score(job_id: int) -> str:
    return run_scoring_job(job_id)


@job_task(ORDER_TASK)
def order(job_id: int) -> str:
    return run_order_job(job_id)
