"""The Celery application: queues "default" (imports, exports, pre-labeling, live chats, queue ordering)
and "gpu" (training, scoring with a reward model, generating with a trained policy).
No result backend: every task records its outcome on its Job row."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Queue

from app.core.config import get_settings
from app.core.db import get_engine
from app.jobs.outbox import Sweeper
from mlcore.lifeline import die_with_parent

die_with_parent()  # under `preflab serve`: the worker ends with the server that started it

settings = get_settings()

celery = Celery(
    "preflab",
    broker=settings.resolved_broker_url,
    include=[
        "workers.tasks.chat",
        "workers.tasks.imports",
        "workers.tasks.exports",
        "workers.tasks.training",
        "workers.tasks.prelabel",
        "workers.tasks.quality",
        "workers.tasks.loop",
    ],
)
celery.conf.update(
    task_ignore_result=True,
    task_acks_late=True,  # a task whose worker dies is delivered again; tasks are idempotent
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    task_queues=(Queue("default"), Queue("gpu")),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
if not settings.resolved_broker_url.startswith("sqla+"):
    # Longer than any training run, so a long job is not handed to a second worker while it runs.
    # (The embedded SQLAlchemy transport passes these options to create_engine, so it gets none.)
    celery.conf.broker_transport_options = {"visibility_timeout": 7 * 24 * 3600}

app = celery  # `celery -A workers.celery_app worker` finds it under either name

_sweeper: list[Sweeper] = []


@signals.worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    """Every worker sweeps the jobs (app/jobs/outbox.py): several sweeping at once is safe."""
    _sweeper.append(Sweeper().start())


@signals.worker_shutdown.connect
def _stop_sweeper(**_: Any) -> None:
    while _sweeper:
        _sweeper.pop().stop()


@signals.worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A pool process forked from the main one (which sweeps) must not share its database connections."""
    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)
