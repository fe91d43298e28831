"""Thin shell: the job id in, the domain does the work and records it on the Job row."""

from __future__ import annotations

from celery import Task

from app.imports.job import TASK_NAME, run_import_job
from workers.celery_app import celery


@celery.task(name=TASK_NAME, bind=True, max_retries=3, default_retry_delay=10)
def import_tasks(self: Task, job_id: int) -> str:
    return run_import_job(job_id)
