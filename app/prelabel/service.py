"""Starting pre-label jobs and keeping a project's endpoint settings. Everything that can be refused is
refused here, before a job is queued and before anything is sent."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import audit
from app.core.errors import InvalidInput
from app.core.jobs import create_job
from app.models import Job, Project, ProjectKind, Suggestion, Task, User
from app.prelabel import prompts
from app.prelabel.endpoint import check_destination, check_key_name, describe, effective_settings
from app.prelabel.schemas import MODES_BY_KIND, LlmSettings, PrelabelRequest

TASK_NAME = "prelabel.run"


def save_settings(session: Session, *, project: Project, values: dict[str, Any], user: User) -> LlmSettings:
    """Validate and store the project's endpoint settings (the key's variable name, never a key)."""
    if any(k.lower() in ("api_key", "key", "token", "secret") for k in values):
        raise InvalidInput(
            "store the API key in the worker's environment and name its variable in api_key_env"
        )
    try:
        settings = LlmSettings.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(f"LLM settings are not valid: {describe(exc)}") from None
    check_key_name(settings.api_key_env)
    project.llm = settings.model_dump(mode="json")
    audit.record(
        session,
        "prelabel.settings",
        user_id=user.id,
        project_id=project.id,
        target=("project", project.id),
        base_url=settings.base_url,
        model=settings.model,
    )
    return settings


def start_prelabel_job(
    session: Session, *, project: Project, user: User, request: PrelabelRequest
) -> tuple[Job, int, str]:
    """Queue a pre-label job; returns it, how many tasks it will consider and the host data goes to."""
    allowed = MODES_BY_KIND[ProjectKind(project.kind)]
    if request.mode not in allowed:
        raise InvalidInput(
            f"a {project.kind} project pre-labels with {', '.join(allowed)}, not {request.mode}"
        )
    if project.archived_at is not None:
        raise InvalidInput("the project is archived; restore it to pre-label")
    settings = effective_settings(project)
    host = check_destination(project, settings)
    check_key_name(settings.api_key_env)
    budget = request.budget
    if budget.max_cost is not None and not (settings.price_in_per_1k or settings.price_out_per_1k):
        raise InvalidInput("a cost budget needs prices: set the price per 1k input and output tokens")
    if request.task_ids is not None:
        wanted = set(request.task_ids)
        found = session.scalar(
            select(func.count()).select_from(Task).where(Task.project_id == project.id, Task.id.in_(wanted))
        )
        if found != len(wanted):
            raise InvalidInput(f"{len(wanted) - (found or 0)} of the task ids are not tasks of this project")
        total = len(wanted)
    else:
        where = [Task.project_id == project.id]
        if request.filter.status == "open":
            where.append(Task.status == "open")
        total = int(session.scalar(select(func.count()).select_from(Task).where(*where)) or 0)
        if request.filter.limit:
            total = min(total, request.filter.limit)
    template = prompts.current(session, project=project, mode=request.mode, user=user)
    models = request.models or [settings.model]
    job = create_job(
        session,
        kind="prelabel",
        task_name=TASK_NAME,
        project_id=project.id,
        user_id=user.id,
        params={
            "mode": request.mode,
            "request": request.model_dump(mode="json"),
            "settings": settings.model_dump(mode="json"),
            "models": models,
            "template": {
                "id": template.id,
                "version": template.version,
                "system": template.system,
                "body": template.body,
            },
            "sent_to": host,
        },
    )
    job.progress_message = f"queued: up to {total:,} tasks for {host}"
    audit.record(
        session,
        "prelabel.start",
        user_id=user.id,
        project_id=project.id,
        target=("job", job.id),
        mode=request.mode,
        sent_to=host,
        model=", ".join(models),
    )
    return job, total, host


def suggestions_query(project: Project, *, kind: str | None = None, task_id: int | None = None) -> Any:
    stmt = select(Suggestion).join(Task, Task.id == Suggestion.task_id).where(Task.project_id == project.id)
    if kind:
        stmt = stmt.where(Suggestion.kind == kind)
    if task_id is not None:
        stmt = stmt.where(Suggestion.task_id == task_id)
    return stmt


def latest_suggestion(session: Session, *, task_id: int, kind: str) -> Suggestion | None:
    return session.scalars(
        select(Suggestion)
        .where(Suggestion.task_id == task_id, Suggestion.kind == kind, Suggestion.error.is_(None))
        .order_by(Suggestion.id.desc())
        .limit(1)
    ).first()


def prelabel_jobs(session: Session, project: Project, limit: int = 20) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.project_id == project.id, Job.kind == "prelabel")
            .order_by(Job.id.desc())
            .limit(limit)
        )
    )
