"""Pre-labeling (DESIGN §10 `/prelabel`): endpoint settings, prompt templates, jobs, suggestions, metrics,
and the reviewers' queue of pre-labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from app.auth.policies import within_project
from app.core.config import get_settings
from app.core.errors import NotFound
from app.core.hosts import host_allowed, host_of
from app.credentials.service import choices
from app.imports.schemas import TaskRead
from app.kinds import kind_of
from app.models import Role, Suggestion, Task
from app.prelabel import prompts, review, service
from app.prelabel.endpoint import effective_settings, instance_defaults, legacy_notice
from app.prelabel.schemas import (
    LlmSettings,
    Metrics,
    Mode,
    PrelabelAccepted,
    PrelabelRequest,
    ReviewBody,
    ReviewNext,
    ReviewRead,
    SettingsRead,
    SuggestionRead,
    TemplateIn,
    TemplateRead,
)
from app.quality.stats import prelabel_figures
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of
from app.web.deps import CurrentUser, IdPath, IdQuery, ProjectAsLead, ProjectAsReviewer, SessionDep

router = APIRouter(tags=["prelabel"])


def get_suggestion(suggestion_id: IdPath, user: CurrentUser, session: SessionDep) -> Suggestion:
    """A suggestion of a project where the caller reviews (404 otherwise, so existence does not leak)."""
    missing = f"suggestion {suggestion_id} not found"
    suggestion = session.get(Suggestion, suggestion_id)
    task = session.get(Task, suggestion.task_id) if suggestion is not None else None
    if suggestion is None or task is None:
        raise NotFound(missing)
    within_project(session, project_id=task.project_id, user=user, need=Role.reviewer, missing=missing)
    return suggestion


SuggestionAsReviewer = Annotated[Suggestion, Depends(get_suggestion)]


@router.post("/projects/{pid}/prelabel", status_code=202)
def start_prelabel(
    body: PrelabelRequest, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> PrelabelAccepted:
    job, total, host = service.start_prelabel_job(session, project=project, user=user, request=body)
    return PrelabelAccepted(job_id=job.id, tasks=total, sent_to=host)


@router.get("/projects/{pid}/prelabel/settings")
def read_settings(project: ProjectAsLead, session: SessionDep) -> SettingsRead:
    """The endpoint, and the credentials it may name: names and hosts, never a key."""
    settings = effective_settings(project)
    host = host_of(settings.base_url)
    return SettingsRead(
        settings=settings,
        stored=project.llm or {},
        defaults=instance_defaults(),
        host=host,
        private=project.is_private,
        host_allowed_for_private=host_allowed(host, get_settings().llm_allowed_hosts),
        modes=list(kind_of(project).prelabel_modes),
        credentials=choices(session, host=host),
        notice=legacy_notice(project),
    )


@router.put("/projects/{pid}/prelabel/settings")
def write_settings(
    body: LlmSettings, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> LlmSettings:
    return service.save_settings(session, project=project, values=body.model_dump(), user=user)


@router.get("/projects/{pid}/prompt-templates")
def list_templates(project: ProjectAsLead, session: SessionDep) -> list[TemplateRead]:
    """The current template of each mode the project can use (the built-in default until edited)."""
    out = []
    for mode in kind_of(project).prelabel_modes:
        row = prompts.latest(session, project, mode)
        if row is not None:
            out.append(TemplateRead.model_validate(row))
        else:
            system, body = prompts.DEFAULTS[mode]
            out.append(TemplateRead(id=None, mode=mode, version=0, system=system, body=body, created_at=None))
    return out


@router.get("/projects/{pid}/prompt-templates/{mode}")
def template_versions(mode: Mode, project: ProjectAsLead, session: SessionDep) -> list[TemplateRead]:
    return [TemplateRead.model_validate(r) for r in prompts.versions(session, project, mode)]


@router.post("/projects/{pid}/prompt-templates/{mode}", status_code=201)
def save_template(
    mode: Mode, body: TemplateIn, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> TemplateRead:
    row = prompts.save(session, project=project, mode=mode, system=body.system, body=body.body, user=user)
    return TemplateRead.model_validate(row)


@router.get("/projects/{pid}/suggestions")
def list_suggestions(
    project: ProjectAsReviewer,
    session: SessionDep,
    mode: Annotated[Mode | None, Query(alias="kind")] = None,
    task_id: IdQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SuggestionRead]:
    stmt = service.suggestions_query(project, mode=mode, task_id=task_id)
    page = page_of(session, stmt, Suggestion.id, cursor=cursor, limit=limit)
    return Page(items=[SuggestionRead.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/projects/{pid}/prelabel/metrics")
def metrics(project: ProjectAsReviewer, session: SessionDep) -> Metrics:
    return prelabel_figures(session, project)


@router.post("/projects/{pid}/prelabel/review/next", response_model=ReviewNext)
def review_next(project: ProjectAsReviewer, user: CurrentUser, session: SessionDep) -> Response | ReviewNext:
    """The next task whose pre-label this reviewer should check (leased to them), or 204 when none is left."""
    claim = review.claim_review(session, project=project, user=user)
    if claim is None:
        return Response(status_code=204)
    return ReviewNext(
        assignment_id=claim.assignment.id,
        expires_at=claim.assignment.expires_at,
        task=TaskRead.model_validate(claim.task),
        suggestion=SuggestionRead.model_validate(claim.suggestion),
    )


@router.post("/suggestions/{suggestion_id}/review", response_model=ReviewRead)
def review_suggestion(
    body: ReviewBody,
    suggestion: SuggestionAsReviewer,
    user: CurrentUser,
    session: SessionDep,
) -> JSONResponse:
    done = review.review_suggestion(session, suggestion=suggestion, user=user, body=body)
    a = done.annotation
    answer = ReviewRead(
        uuid=a.uuid,
        task_id=a.task_id,
        suggestion_id=a.suggestion_id or done.suggestion_id,
        origin=a.origin,
        edit_distance=a.edit_distance,
        result=a.result,
        created=done.created,
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=201 if done.created else 200)
