"""Thin shells: scoring with a reward model (queue "gpu": torch), reordering the queue (queue "default")."""

from __future__ import annotations

from app.loop.scoring import SCORE_TASK, run_order_job, run_scoring_job
from app.projects.service import ORDER_TASK
from workers.celery_app import celery


@celery.task(name=SCORE_TASK)
def score(job_id: int) -> str:
    return run_scoring_job(job_id)


@celery.task(name=ORDER_TASK)
def order(job_id: int) -> str:
    return run_order_job(job_id)
