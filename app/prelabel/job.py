"""The pre-label Job, on the worker: reads the project's tasks in pages, runs the engine, writes suggestions,
cache entries and (generate) new responses as answers come back, with progress and cost on the Job row.

Safe to deliver twice: a task that already has a suggestion from this job is not asked again. The privacy
guard and the API key are checked again here, before the first request, because the project or the
worker's environment may have changed since the job was queued.

A generate job that names trained policies runs app/prelabel/local.py instead, on a gpu worker: the same
Selection, items and Sink, with texts from the models rather than from an endpoint."""

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
from app.jobs.runtime import RunningJob, record_progress, run_job
from app.models import Job, LlmCacheEntry, Project, Suggestion, Task, utcnow
from app.prelabel.endpoint import api_key, check_destination
from app.prelabel.modes import Item, Plan, Skip, TaskView, build_items, free_ids
from app.prelabel.prompts import Compiled
from app.prelabel.redact import Redactor
from app.prelabel.runner import Limits, Outcome, Source, Totals, run_engine
from app.prelabel.schemas import LlmSettings, PrelabelRequest

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
                Suggestion.task_id == Task.id, Suggestion.kind == self.mode, Suggestion.error.is_(None)
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
        responses.append({"id": rid, "text": text, "model": item.model})
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
        tasks, following = _read(lambda conn: selection.page(conn, cursor or 0))
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


def _read(conn_fn: Any) -> Any:
    with get_engine().execution_options(sqlite_deferred=True).connect() as conn, conn.begin():
        return conn_fn(conn)


def _target(kind: str, settings: dict[str, Any], k: int | None) -> int:
    if kind == "pairwise":
        return 2
    if k is not None:
        return k
    return {"ranking": int(settings.get("k", 4)), "sft": 1}.get(kind, 2)


def finish_run(run: RunningJob, totals: Totals, summary: str) -> str:
    """The job's end, from how the run stopped: cancelled, failed, at the budget, or done."""
    if totals.stopped == "cancelled":
        return run.cancel(log=f"cancelled: {summary}")
    if totals.stopped == "failed":
        return run.fail(totals.stop_detail or "the run failed", log=f"failed: {summary}")
    if totals.stopped == "budget":  # stopped at the budget: say how far it got
        return run.succeed(log=f"stopped at the budget: {summary}", keep_progress=True)
    return run.succeed(log=summary)


def run_prelabel_job(job_id: int) -> str:
    """Run a pre-label job; returns its final status."""
    with run_job(job_id, "prelabel", failure="the pre-label job stopped: {error}") as run:
        if run is None:
            return "skipped"
        params = run.params
        with session_scope() as session:
            project = session.get_one(Project, run.project_id)
            session.expunge(project)
        run.log(f"attempt {run.attempts}: {params['mode']}")
        if params.get("policy_models"):  # trained models generate on this (gpu) worker: torch, no endpoint
            from app.prelabel.local import run_policy_job

            return run_policy_job(run, params, project)
        return _run_on_endpoint(run, params, project)
    return run.status


def _run_on_endpoint(run: RunningJob, params: dict[str, Any], project: Project) -> str:
    job_id = run.id
    request = PrelabelRequest.model_validate(params["request"])
    settings = LlmSettings.model_validate(params["settings"])
    try:
        host = check_destination(project, settings)  # again: the project may have become private
        key = api_key(settings)
    except InvalidInput as exc:
        return run.fail(exc.message, log="refused before sending anything")
    template = params["template"]
    redactor = Redactor(emails=settings.redact_emails, phones=settings.redact_phones)
    models = params.get("models") or [settings.model]
    plan = Plan(
        mode=request.mode,
        settings=settings,
        template=Compiled(template["version"], template["system"], template["body"]),
        project_settings=project.settings,
        instructions=project.instructions,
        kind=str(project.kind),
        temperature=request.temperature if request.temperature is not None else settings.temperature,
        models=models,
        target=_target(str(project.kind), project.settings, request.k),
        redactor=redactor,
    )
    selection = Selection(project.id, job_id, request.mode, request)
    total = _read(selection.count)
    info = {
        "mode": request.mode,
        "sent_to": host,
        "base_url": settings.base_url,
        "model": settings.model,
        "models": models,
        "redaction": {"emails": settings.redact_emails, "phones": settings.redact_phones},
        "budget": request.budget.model_dump(),
    }
    sink = Sink(job_id, total, template["version"], info, redactor)
    load = task_loader(selection)

    def build(task: TaskView) -> list[Item]:
        return build_or_skip(plan, sink, task)

    def lookup(items: list[Item]) -> None:
        if request.use_cache:
            _attach_cache(items)

    run.log(
        f"sending {request.mode} requests about {total} tasks to {host} ({settings.base_url}), "
        f"model {', '.join(models)}, template v{template['version']}; prompts"
        f"{' and responses' if request.mode == 'judge' else ''} are sent"
        + (f"; redacting {_redacting(settings)}" if redactor.active else ""),
    )
    limits = Limits(max_cost=request.budget.max_cost, max_tokens=request.budget.max_tokens)
    totals = run_engine(settings, key, limits, Source(load, build, lookup), sink.flush)
    summary = (
        f"{totals.done} suggestions, {totals.errors} errors, {totals.cached} from the cache, "
        f"{sum(sink.skipped.values())} skipped; {totals.requests} requests, "
        f"{totals.tokens_in}+{totals.tokens_out} tokens, cost {totals.cost:.4f}"
    )
    return finish_run(run, totals, summary)


def _redacting(settings: LlmSettings) -> str:
    return " and ".join(
        n for n, on in (("e-mails", settings.redact_emails), ("phones", settings.redact_phones)) if on
    )


def _attach_cache(items: list[Item]) -> None:
    calls: dict[str, list[Any]] = {}
    for item in items:
        for call in item.calls:
            calls.setdefault(call.key, []).append(call)
    cols = (LlmCacheEntry.key, LlmCacheEntry.response, LlmCacheEntry.tokens_in, LlmCacheEntry.tokens_out)
    rows = _read(lambda conn: conn.execute(select(*cols).where(LlmCacheEntry.key.in_(list(calls)))).all())
    for key, response, t_in, t_out in rows:
        for call in calls[key]:
            call.cached = {"content": response.get("content", ""), "tokens_in": t_in, "tokens_out": t_out}
