"""A selection of tasks as JSON Lines, streamed: one line per task with its answers, CHUNK tasks per read.

Snapshots (app/exports) cannot be limited to chosen tasks, so the data manager's "export the selection" is
this raw download. The stream reads on its own connection after the request's transaction has ended (a
deferred transaction on SQLite, so writers are not held up while a large selection streams)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.db import get_engine
from app.models import Annotation, Task

CHUNK = 500


def task_lines(session: Session, ids: Select[int]) -> Iterator[bytes]:
    """Each task `ids` names, in id order, as one JSON line: the task, its gold, and every answer."""
    last = 0
    while True:
        chunk_ids = list(session.scalars(ids.where(Task.id > last).order_by(Task.id).limit(CHUNK)))
        if not chunk_ids:
            return
        tasks = list(session.scalars(select(Task).where(Task.id.in_(chunk_ids)).order_by(Task.id)))
        last = tasks[-1].id
        answers: dict[int, list[dict[str, object]]] = {t.id: [] for t in tasks}
        for a in session.scalars(
            select(Annotation).where(Annotation.task_id.in_(list(answers))).order_by(Annotation.id)
        ):
            answers[a.task_id].append(
                {
                    "uuid": a.uuid,
                    "user_id": a.user_id,
                    "result": a.result,
                    "status": a.status,
                    "origin": a.origin,
                    "lead_time_ms": a.lead_time_ms,
                    "created_at": a.created_at,
                }
            )
        chunk = b"".join(
            orjson.dumps(
                {
                    "id": t.id,
                    "external_id": t.external_id,
                    "prompt": t.prompt,
                    "responses": t.responses,
                    "meta": t.meta,
                    "priority": t.priority,
                    "status": t.status,
                    "gold": t.gold,
                    "annotation_count": t.annotation_count,
                    "annotations": answers[t.id],
                }
            )
            + b"\n"
            for t in tasks
        )
        session.expunge_all()
        yield chunk


def stream_selection(ids: Select[int]) -> Iterator[bytes]:
    """task_lines on a connection of its own, for a response body that outlives the request's session."""
    with (
        get_engine().execution_options(sqlite_deferred=True).connect() as conn,
        Session(bind=conn) as session,
    ):
        yield from task_lines(session, ids)
