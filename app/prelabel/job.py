"""The pre-label Job, on the worker: reads the project's tasks in pages, runs the engine, writes suggestions,
cache entries and (generate) new responses as answers come back, with progress and cost on the Job row.

Safe to deliver twice: a task that already has a suggestion from this job is not asked again. The privacy
guard and the credential (it exists, the endpoint's host is one of its hosts, the worker has its key) are
checked again here, before the first request, because the project, the credential or the worker's
environment may have changed since the job was queued.

A generate job that names trained policies runs app/prelabel/local.py instead, on a gpu worker: the same
Selection, items and Sink, with texts from the models rather than from an endpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.db import session_scope
from app.core.errors import InvalidInput
from app.credentials.service import key_for
from app.jobs.runtime import RunningJob, run_job
from app.kinds import kind_of
from app.models import LlmCacheEntry, Project
from app.prelabel.endpoint import check_destination, upgraded
from app.prelabel.modes import Item, Plan, TaskView
from app.prelabel.pipeline import Selection, Sink, build_or_skip, finish_run, read, task_loader
from app.prelabel.prompts import Compiled
from app.prelabel.redact import Redactor
from app.prelabel.runner import Limits, Source, run_engine
from app.prelabel.schemas import LlmSettings, PrelabelRequest


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
    stored, notice = upgraded(params["settings"])  # a job queued before credentials existed
    settings = LlmSettings.model_validate(stored)
    try:
        if notice:
            raise InvalidInput(notice)
        host = check_destination(project, settings)  # again: the project may have become private
        with session_scope() as session:
            key = key_for(session, name=settings.credential, host=host)
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
        kind=kind_of(project),
        temperature=request.temperature if request.temperature is not None else settings.temperature,
        models=models,
        target=kind_of(project).responses_to_generate(project.settings, request.k),
        redactor=redactor,
    )
    selection = Selection(project.id, job_id, request.mode, request)
    total = read(selection.count)
    info = {
        "mode": request.mode,
        "sent_to": host,
        "base_url": settings.base_url,
        "model": settings.model,
        "credential": settings.credential,
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
        f"model {', '.join(models)}, template v{template['version']}, "
        + (f"with the key of credential {key.credential!r}" if key.value else "with no API key")
        + "; prompts"
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
    rows = read(lambda conn: conn.execute(select(*cols).where(LlmCacheEntry.key.in_(list(calls)))).all())
    for key, response, t_in, t_out in rows:
        for call in calls[key]:
            call.cached = {"content": response.get("content", ""), "tokens_in": t_in, "tokens_out": t_out}
