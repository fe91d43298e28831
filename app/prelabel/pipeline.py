"""What both pre-label runs share (the endpoint's in app/prelabel/job.py, the trained policies' in
app/prelabel/local.py): which tasks a job asks about, page by page (Selection, task_loader), their items
(build_or_skip), where the outcomes go (Sink: suggestions, cache entries and generated responses, with
progress and cost on the Job row), and how the job ends (finish_run)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core.db import get_engine, session_scope
from app.core.errors import InvalidInput
from app.imports.shapes import MAX_RESPONSES
from app.jobs.runtime import RunningJob, record_progress
from app.models import Job, LlmCacheEntry, Suggestion, Task, utcnow
from app.prelabel.modes import Item, Plan, Skip, TaskView, build_items, free_ids
from app.prelabel.redact import Redactor
from app.prelabel.runner import Outcome, Totals
from app.prelabel.schemas import PrelabelRequest

PAGE = 256
ID_ORDER = {rid: i for i, rid in enumerate(free_ids(set()))}


@dataclass
class Selection:
    """Which tasks a job asks about, page by page in id order."""

    project_id: int
    job_id: int
    mode: str
    request: PrelabelRequest

    def where(self) -> list[Any]:
        mine = exists().where(Suggestion.task_id == Task.id, Suggestion.job_id == self.job_id)
        where: list[Any] = [Task.project_id == self.project_id, ~mine]
        if self.request.task_ids is not None:
            return where
        if self.request.filter.status == "open":
            where.append(Task.status == "open")
        if self.request.filter.only_missing and self.mode != "generate":
            has = exists().where(
                Suggestion.task_id == Task.id, Suggestion.of_kind(self.mode), Suggestion.error.is_(None)
            )
            where.append(~has)
        return where

    def count(self, conn: Connection) -> int:
        stmt = select(func.count()).select_from(Task).where(*self.where())
        if self.request.task_ids is not None:
            stmt = stmt.where(Task.id.in_(self.request.task_ids))
        n = int(conn.execute(stmt).scalar_one())
        return min(n, self.request.filter.limit) if self.request.filter.limit else n

    def page(self, conn: Connection, cursor: int) -> tuple[list[TaskView], int | None]:
        """Tasks after `cursor` (a task id, or a position in task_ids) and the next cursor."""
        cols = (Task.id, Task.prompt, Task.responses, Task.meta, Task.external_id)
        ids = sorted(set(self.request.task_ids)) if self.request.task_ids is not None else None
        if ids is not None:
            chunk = ids[cursor : cursor + PAGE]
            rows = conn.execute(
                select(*cols).where(*self.where(), Task.id.in_(chunk)).order_by(Task.id)
            ).all()
            following = cursor + PAGE if cursor + PAGE < len(ids) else None
        else:
            rows = conn.execute(
                select(*cols).where(*self.where(), Task.id > cursor).order_by(Task.id).limit(PAGE)
            ).all()
            following = rows[-1][0] if len(rows) == PAGE else None
        return [TaskView(r[0], r[1], list(r[2] or []), r[3] or {}, r[4]) for r in rows], following


@dataclass
class Sink:
    """Writes what the engine hands over; counts what the engine does not see (skips, disagreements)."""

    job_id: int
    total: int
    template_version: int
    info: dict[str, Any]
    redactor: Redactor
    skipped: Counter[str] = field(default_factory=Counter)
    disagree: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flush(self, outcomes: list[Outcome], totals: Totals, final: bool) -> bool:
        with session_scope() as session:
            if outcomes:
                self._write(session, outcomes)
            job = session.get_one(Job, self.job_id)
            processed = totals.done + totals.errors + sum(self.skipped.values())
            record_progress(
                job,
                processed / max(self.total, 1),
                f"{processed:,} of {self.total:,} tasks · {totals.errors:,} errors · "
                f"{totals.cached:,} cached · cost {totals.cost:.4f}",
            )
            job.result = self.result(totals)
            return bool(job.cancel_requested)

    def result(self, totals: Totals) -> dict[str, Any]:
        with self.lock:
            skipped = dict(self.skipped)
            redacted = dict(self.redactor.counts)
        return {
            **totals.as_dict(),
            **self.info,
            "total": self.total,
            "skipped": skipped,
            "redacted": redacted,
            "orders_disagree": self.disagree,
            "template_version": self.template_version,
            **({"stopped": totals.stopped, "stop_detail": totals.stop_detail} if totals.stopped else {}),
        }

    def _write(self, session: Session, outcomes: list[Outcome]) -> None:
        now = utcnow()
        rows: list[dict[str, Any]] = []
        cache: dict[str, dict[str, Any]] = {}
        for out in outcomes:
            item, result, error = out.item, out.result, out.error
            if item.mode == "generate" and result is not None:
                try:
                    result = {"response_ids": _add_responses(session, item, result["texts"])}
                except Skip as exc:
                    result, error = None, str(exc)
            if result is not None and item.mode == "judge" and not result.get("orders_agree", True):
                self.disagree += 1
            rows.append(
                {
                    "task_id": item.task_id,
                    "job_id": self.job_id,
                    "kind": item.mode,
                    "result": result if error is None and result is not None else {},
                    "model": item.model[:200],
                    "prompt_version": self.template_version,
                    "tokens_in": out.tokens_in,
                    "tokens_out": out.tokens_out,
                    "cost": out.cost,
                    "latency_ms": out.latency_ms,
                    "error": error,
                    "created_at": now,
                }
            )
            for key, model, content, t_in, t_out in out.fresh:
                cache[key] = {
                    "key": key,
                    "model": model[:200],
                    "response": {"content": content},
                    "tokens_in": t_in,
                    "tokens_out": t_out,
                    "created_at": now,
                }
        session.connection().execute(insert(Suggestion), rows)  # Core executemany: no ORM bookkeeping
        if cache:
            dialect = session.get_bind().dialect.name
            upsert = pg_insert if dialect == "postgresql" else sqlite_insert
            session.execute(upsert(LlmCacheEntry).on_conflict_do_nothing(), list(cache.values()))


def _add_responses(session: Session, item: Item, texts: list[str]) -> list[str]:
    """Add generated responses to the task, under its row lock; never to a task people are working on.
    They take the ids chosen when the job asked (a fresh one if that id was taken since) and stand in
    id order after the task's own, whichever model answered first."""
    task = session.get_one(Task, item.task_id, with_for_update=True)
    if task.annotation_count or task.reserved:
        raise Skip("people are annotating this task: its responses were left as they were")
    responses = list(task.responses or [])
    if len(responses) + len(texts) > MAX_RESPONSES:
        raise Skip(f"a task holds at most {MAX_RESPONSES} responses")
    used = {str(r["id"]) for r in responses}
    fresh = free_ids(used | set(item.slots))
    added = []
    for text, slot in zip(texts, item.slots or [next(fresh) for _ in texts], strict=True):
        rid = slot if slot not in used else next(fresh)
        used.add(rid)
        # PostgreSQL's JSON cannot hold NUL, which a model's sampled tokens can spell (imports refuse it)
        responses.append({"id": rid, "text": text.replace("\x00", ""), "model": item.model})
        added.append(rid)
    own, generated = responses[: item.base], responses[item.base :]
    task.responses = own + sorted(generated, key=lambda r: ID_ORDER.get(str(r["id"]), len(ID_ORDER)))
    return added


def task_loader(selection: Selection) -> Callable[[int | None], tuple[list[TaskView], int | None]]:
    """load(cursor) -> a page of the selection's tasks and the next cursor, within the filter's limit."""
    request = selection.request
    limit = request.filter.limit if request.task_ids is None else None
    seen = 0

    def load(cursor: int | None) -> tuple[list[TaskView], int | None]:
        nonlocal seen
        tasks, following = read(lambda conn: selection.page(conn, cursor or 0))
        if limit is not None:
            tasks = tasks[: max(limit - seen, 0)]
            following = following if seen + len(tasks) < limit else None
        seen += len(tasks)
        return tasks, following

    return load


def build_or_skip(plan: Plan, sink: Sink, task: TaskView) -> list[Item]:
    """The task's items, or none when it does not fit the mode (counted as skipped, with the reason)."""
    try:
        return build_items(plan, task)
    except (Skip, InvalidInput) as exc:
        with sink.lock:
            sink.skipped[str(getattr(exc, "message", exc))] += 1
        return []


def read(conn_fn: Any) -> Any:
    with get_engine().execution_options(sqlite_deferred=True).connect() as conn, conn.begin():
        return conn_fn(conn)


def finish_run(run: RunningJob, totals: Totals, summary: str) -> str:
    """The job's end, from how the run stopped: cancelled, failed, at the budget, or done."""
    if totals.stopped == "cancelled":
        return run.cancel(log=f"cancelled: {summary}")
    if totals.stopped == "failed":
        return run.fail(totals.stop_detail or "the run failed", log=f"failed: {summary}")
    if totals.stopped == "budget":  # stopped at the budget: say how far it got
        return run.succeed(log=f"stopped at the budget: {summary}", keep_progress=True)
    return run.succeed(log=summary)
