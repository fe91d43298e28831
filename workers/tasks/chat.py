"""Thin shell: the job id in; the domain asks the models and streams their replies into the turn."""

from __future__ import annotations

from app.chat.generate import run_chat_job
from app.chat.service import CHAT_TASK
from workers.job_task import job_task


@job_task(CHAT_TASK)
def generate(job_id: int) -> str:
    return run_chat_job(job_id)
