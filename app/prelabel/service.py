"""Starting pre-label jobs and keeping a project's endpoint settings. Everything that can be refused is
refused here, before a job is queued and before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app.auth import audit
from app.auth.policies import model_for, readable_models
from app.core.errors import InvalidInput
from app.core.hosts import host_of
from app.credentials.service import check_credential
from app.jobs.runtime import create_job
from app.kinds import kind_of
from app.models import Job, Project, Snapshot, Suggestion, Task, TrainedModel, User
from app.prelabel import prompts
from app.prelabel.endpoint import check_destination, describe, effective_settings, legacy_notice
from app.prelabel.schemas import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_POLICY_TEMPERATURE,
    POLICY_METHODS,
    LlmSettings,
    PrelabelRequest,
)
from app.projects.service import count_tasks

TASK_NAME = "prelabel.run"
LOCAL = "nowhere: generated locally"  # where a job with trained policies sends prompts


def save_settings(session: Session, *, project: Project, values: dict[str, Any], user: User) -> LlmSettings:
    """Validate and store the project's endpoint settings (the name of a credential, never a key): the
    credential must exist and may be sent to the endpoint's host."""
    if any(k.lower() in ("api_key", "key", "token", "secret") for k in values):
        raise InvalidInput(
            "Preflab stores no keys: an administrator keeps them as credentials bound to their hosts; "
            "name one in `credential`"
        )
    try:
        settings = LlmSettings.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(f"LLM settings are not valid: {describe(exc)}") from None
    check_credential(session, name=settings.credential, host=host_of(settings.base_url))
    project.llm = settings.model_dump(mode="json")
    audit.record(
        session,
        "prelabel.settings",
        user_id=user.id,
        project_id=project.id,
        target=("project", project.id),
        base_url=settings.base_url,
        model=settings.model,
        credential=settings.credential,
    )
    return settings


def _count_tasks(session: Session, project: Project, request: PrelabelRequest) -> int:
    return count_tasks(
        session,
        project,
        task_ids=request.task_ids,
        open_only=request.filter.status == "open",
        limit=request.filter.limit,
    )


def start_prelabel_job(
    session: Session, *, project: Project, user: User, request: PrelabelRequest
) -> tuple[Job, int, str]:
    """Queue a pre-label job; returns it, how many tasks it will consider and the host data goes to
    (LOCAL when trained policies generate: nothing leaves the network)."""
    allowed = kind_of(project).prelabel_modes
    if request.mode not in allowed:
        raise InvalidInput(
            f"a {project.kind} project pre-labels with {', '.join(allowed)}, not {request.mode}"
        )
    if project.archived_at is not None:
        raise InvalidInput("the project is archived; restore it to pre-label")
    if request.policy_models:
        return _start_policy_job(session, project=project, user=user, request=request)
    if notice := legacy_notice(project):
        raise InvalidInput(notice, field="credential")
    settings = effective_settings(project)
    host = check_destination(project, settings)
    check_credential(session, name=settings.credential, host=host)
    budget = request.budget
    if budget.max_cost is not None and not (settings.price_in_per_1k or settings.price_out_per_1k):
        raise InvalidInput("a cost budget needs prices: set the price per 1k input and output tokens")
    total = _count_tasks(session, project, request)
    template = prompts.current(session, project=project, mode=request.mode, user=user)
    models = request.models or [settings.model]
    job = _queue(
        session,
        project=project,
        user=user,
        request=request,
        template=template,
        models=models,
        sent_to=host,
        progress=f"queued: up to {total:,} tasks for {host}",
        params={"settings": settings.model_dump(mode="json")},
    )
    return job, total, host


def _queue(
    session: Session,
    *,
    project: Project,
    user: User,
    request: PrelabelRequest,
    template: Any,
    models: list[str],
    sent_to: str,
    progress: str,
    params: dict[str, Any],
    queue: str = "default",
    **audited: Any,
) -> Job:
    """Create the job with what every pre-label job carries, and audit it."""
    job = create_job(
        session,
        kind="prelabel",
        task_name=TASK_NAME,
        project_id=project.id,
        user_id=user.id,
        queue=queue,
        params={
            "mode": request.mode,
            "request": request.model_dump(mode="json"),
            "models": models,
            "template": _template_params(template),
            "sent_to": sent_to,
            **params,
        },
    )
    job.progress_message = progress
    audit.record(
        session,
        "prelabel.start",
        user_id=user.id,
        project_id=project.id,
        target=("job", job.id),
        mode=request.mode,
        sent_to=sent_to,
        model=", ".join(models),
        **audited,
    )
    return job


def _template_params(template: Any) -> dict[str, Any]:
    return {"id": template.id, "version": template.version, "system": template.system, "body": template.body}


def check_policy(session: Session, *, model_id: int, user: User) -> TrainedModel:
    """A trained model the user may generate with: visible to them (404 otherwise, as everywhere), a
    causal LM, and with its files where training saved them (the GPU workers read the same data dir)."""
    model = model_for(session, model_id=model_id, user=user)
    if model.method not in POLICY_METHODS:
        raise InvalidInput(
            f"model {model.id} ({model.name}) is a {model.method} model: it scores responses and cannot "
            f"write them; generate with a {', '.join(m.upper() for m in POLICY_METHODS)} model",
            field="policy_models",
        )
    if not Path(model.path).expanduser().is_dir():
        raise InvalidInput(
            f"model {model.id} ({model.name}) cannot generate: its files are missing ({model.path} is not a "
            "directory); restore them or train the model again",
            field="policy_models",
        )
    return model


def policy_labels(models: list[TrainedModel]) -> list[str]:
    """What each model's responses are called (their `model`, which the leaderboard ranks): the model's
    name, with its id when two of the chosen models share a name."""
    names = [m.name for m in models]
    return [m.name if names.count(m.name) == 1 else f"{m.name} (model {m.id})"[:200] for m in models]


def _start_policy_job(
    session: Session, *, project: Project, user: User, request: PrelabelRequest
) -> tuple[Job, int, str]:
    """Generate with trained models on a GPU worker: no endpoint, no key and no privacy guard, since
    nothing leaves the network; the job log and result say so."""
    models = [check_policy(session, model_id=mid, user=user) for mid in request.policy_models]
    if request.budget.max_cost is not None:
        raise InvalidInput(
            "generating with trained models costs nothing: a cost budget does not apply (a token budget does)"
        )
    total = _count_tasks(session, project, request)
    template = prompts.current(session, project=project, mode=request.mode, user=user)
    labels = policy_labels(models)
    job = _queue(
        session,
        project=project,
        user=user,
        request=request,
        template=template,
        models=labels,
        sent_to=LOCAL,
        progress=f"queued for a GPU worker: up to {total:,} tasks, generated locally",
        queue="gpu",  # torch and the GPU live on the gpu workers (the embedded worker serves both queues)
        params={
            "policy_models": [
                {
                    "id": m.id,
                    "name": m.name,
                    "label": label,
                    "path": m.path,
                    "weights": m.weights,
                    "method": m.method,
                    "base_model": m.base_model,
                }
                for m, label in zip(models, labels, strict=True)
            ],
            "max_new_tokens": request.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            "temperature": (
                request.temperature if request.temperature is not None else DEFAULT_POLICY_TEMPERATURE
            ),
        },
        policy_models=[m.id for m in models],
    )
    return job, total, LOCAL


def policy_choices(session: Session, *, user: User, project: Project, limit: int = 200) -> list[TrainedModel]:
    """The trained models a user may generate with (the causal ones of those they may see), this
    project's first, newest first."""
    stmt = readable_models(user).where(TrainedModel.method.in_(POLICY_METHODS))
    of_project = select(Snapshot.id).where(Snapshot.project_id == project.id)
    others_after = case((TrainedModel.snapshot_id.in_(of_project), 0), else_=1)
    return list(session.scalars(stmt.order_by(others_after, TrainedModel.id.desc()).limit(limit)))


def suggestions_query(project: Project, *, mode: str | None = None, task_id: int | None = None) -> Any:
    stmt = select(Suggestion).join(Task, Task.id == Suggestion.task_id).where(Task.project_id == project.id)
    if mode:
        stmt = stmt.where(Suggestion.of_kind(mode))
    if task_id is not None:
        stmt = stmt.where(Suggestion.task_id == task_id)
    return stmt


def latest_suggestion(session: Session, *, task_id: int, mode: str) -> Suggestion | None:
    return session.scalars(
        select(Suggestion)
        .where(Suggestion.task_id == task_id, Suggestion.of_kind(mode), Suggestion.error.is_(None))
        .order_by(Suggestion.id.desc())
        .limit(1)
    ).first()


def prelabel_jobs(session: Session, project: Project, limit: int = 20) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.project_id == project.id, Job.of_kind("prelabel"))
            .order_by(Job.id.desc())
            .limit(limit)
        )
    )


def job_errors(session: Session, job: Job, limit: int = 50) -> list[Any]:
    """The job's newest failed suggestions: (task_id, error, the task's external_id) rows."""
    return list(
        session.execute(
            select(Suggestion.task_id, Suggestion.error, Task.external_id)
            .join(Task, Task.id == Suggestion.task_id)
            .where(Suggestion.job_id == job.id, Suggestion.error.is_not(None))
            .order_by(Suggestion.id.desc())
            .limit(limit)
        ).all()
    )
