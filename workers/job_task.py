"""How every job task is declared: the retry policy of app/jobs (which errors, how often, what delay) as
Celery options, once. A transient error reaches Celery from the job's runner, which has put the job back in
the queue; Celery sends the task again after an exponential, jittered delay. The job's own errors never get
here: its runner failed the job already. acks_late stays safe because runners are idempotent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Task

from app.jobs.runtime import RETRY, give_up
from workers.celery_app import celery


class JobTask(Task):
    autoretry_for = RETRY.errors
    max_retries = RETRY.max_retries
    retry_backoff = RETRY.backoff_s
    retry_backoff_max = RETRY.backoff_max_s
    retry_jitter = True  # many jobs hit by one outage do not all come back at once

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Whatever escaped the runner (retries spent, or a failure before it could claim) fails the job,
        so that it does not stay queued or running."""
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id is not None:
            attempts = self.request.retries + 1
            give_up(int(job_id), f"the worker gave up after {attempts} attempts: {type(exc).__name__}: {exc}")


def job_task(name: str) -> Callable[[Callable[[int], str]], Any]:
    """@job_task("export.snapshot") on `def task(job_id: int) -> str`: a Celery task with the policy."""
    return celery.task(name=name, base=JobTask)
