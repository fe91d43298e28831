"""Sending background work to the broker. Tasks are sent by name after the request's transaction commits,
so a worker never picks up a job id whose row it cannot see yet. The web tier never imports Celery tasks
from workers/; the Job rows themselves are app/jobs' concern."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import get_settings

_PENDING = "preflab_pending_tasks"


@lru_cache
def celery_client() -> Celery:
    client = Celery("preflab-client", broker=get_settings().resolved_broker_url)
    client.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True)
    return client


def send_task(name: str, args: list[Any], queue: str) -> None:
    celery_client().send_task(name, args=args, queue=queue)


def enqueue_after_commit(session: Session, name: str, *, args: list[Any], queue: str = "default") -> None:
    session.info.setdefault(_PENDING, []).append((name, args, queue))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for name, args, queue in session.info.pop(_PENDING, []):
        send_task(name, args, queue)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
