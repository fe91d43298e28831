"""Sending background work to the broker. Tasks are sent by name after the request's transaction commits,
so a worker never picks up a job id whose row it cannot see yet. The web tier never imports Celery tasks
from workers/; the Job rows themselves are app/jobs' concern."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import get_settings

_PENDING = "preflab_pending_tasks"
log = logging.getLogger(__name__)


@lru_cache
def celery_client() -> Celery:
    client = Celery("preflab-client", broker=get_settings().resolved_broker_url)
    client.conf.update(
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        # A broker that is down must not hold a request: fail the send fast (the outbox sends it later).
        broker_connection_timeout=2,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
    )
    return client


def send_task(name: str, args: list[Any], queue: str) -> None:
    celery_client().send_task(name, args=args, queue=queue)


def enqueue_after_commit(
    session: Session,
    name: str,
    *,
    args: list[Any],
    queue: str = "default",
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Send the task once the session commits. A send that fails is logged and handed to `on_failure`,
    never raised: the commit already happened, and the caller's answer must say so."""
    session.info.setdefault(_PENDING, []).append((name, args, queue, on_failure))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for name, args, queue, on_failure in session.info.pop(_PENDING, []):
        try:
            send_task(name, args, queue)
        except Exception as exc:
            log.warning("could not send %s%s to the broker: %s", name, args, exc)
            if on_failure is not None:
                on_failure()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
