"""The Celery application: queues "default" (imports, exports, pre-labeling, queue ordering) and "gpu"
(training, scoring with a reward model, generating with a trained policy).
No result backend: every task records its outcome on its Job row."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from app.core.config import get_settings

settings = get_settings()

celery = Celery(
    "preflab",
    broker=settings.resolved_broker_url,
    include=[
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
