from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.auth import service as auth_service
from app.auth.policies import may_create_projects, role_in
from app.core.config import get_settings
from app.core.errors import ImportRejected, InvalidInput, PreflabError
from app.imports.images import NeedsWorker
from app.imports.job import start_import_job, store_upload
from app.imports.service import import_inline
from app.imports.shapes import parse_mapping
from app.imports.sources import rows_of
from app.kinds import KIND_NAMES
from app.kinds.settings import COMMON_FIELDS, QUALITY_FIELDS
from app.labeling import service as labeling_service
from app.models import Project, Role, User
from app.projects import service
from app.projects.schemas import ProjectCreate, ProjectUpdate, validate_settings
from app.web.deps import (
    MAX_ID,
    CurrentUser,
    IdPath,
    ProjectAsAnnotator,
    ProjectAsLead,
    ProjectCreator,
    SessionDep,
)
from app.web.pages.deps import FormDep
from app.web.pages.forms import settings_from_form
from app.web.templating import is_htmx, render

router = APIRouter()
# The overview lists this many open flags, newest first (GET /api/v1/projects/{pid}/flags has them all).
OVERVIEW_FLAGS = 50


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p not in KIND_NAMES) or 'value'}: {e['msg']}"
        for e in exc.errors()
    )


def _ctx(session: SessionDep, project: Project, user: User, **extra: Any) -> dict[str, Any]:
    role = role_in(session, project_id=project.id, user=user)
    return {
        "project": project,
        "stats": service.read_project(session, project),
        "role": role,
        "Role": Role,
        **extra,
    }


@router.get("/")
def home(request: Request, user: CurrentUser, session: SessionDep, archived: bool = False) -> Response:
    rows = service.visible_projects(session, user=user, include_archived=archived, limit=500)
    counts = service.project_counts(session, [p.id for p, _ in rows])
    projects = [service.to_read(p, counts[p.id], role) for p, role in rows]
    can_create = may_create_projects(session, user)
    context = {"projects": projects, "archived": archived, "can_create": can_create}
    return render(request, "projects/list.html", context)


@router.get("/projects/new")
def new_project_page(request: Request, creator: ProjectCreator) -> Response:
    return render(request, "projects/new.html", {"error": None, "form": {}})


@router.post("/projects/new")
def create_project(request: Request, creator: ProjectCreator, session: SessionDep, form: FormDep) -> Response:
    kind = str(form.get("kind", ""))
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        data = ProjectCreate(
            name=str(form.get("name", "")),
            kind=kind,
            instructions=str(form.get("instructions", "")),
        )
    except ValidationError as exc:
        return render(
            request,
            "projects/new.html",
            {"error": _errors(exc), "form": values},
            status_code=422,
        )
    project = service.create_project(session, data=data, user=creator)
    return RedirectResponse(f"/projects/{project.id}/settings?created=1", status_code=303)


@router.get("/projects/{pid}")
def project_page(
    request: Request, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    jobs = service.recent_jobs(session, project)
    ctx = _ctx(session, project, user, jobs=jobs, flags=[])
    if ctx["role"] >= Role.lead and not is_htmx(request):  # the progress poll shows no flags
        ctx["flags"] = labeling_service.flags_of(session, project, limit=OVERVIEW_FLAGS)
    return render(request, "projects/detail.html", ctx, block="progress")


def _settings_form(
    request: Request,
    session: SessionDep,
    project: Project,
    user: User,
    *,
    error: str | None,
    typed: dict[str, str] | None = None,
    created: bool = False,
    status_code: int = 200,
) -> Response:
    """`typed`: the form as the lead filled it in, shown again after an error instead of the stored values."""
    return render(
        request,
        "projects/settings.html",
        _ctx(
            session,
            project,
            user,
            error=error,
            typed=typed,
            created=created,
            common_fields=COMMON_FIELDS,
            quality_fields=QUALITY_FIELDS,
        ),
        status_code=status_code,
    )


@router.get("/projects/{pid}/settings")
def settings_page(
    request: Request,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    created: bool = False,
) -> Response:
    return _settings_form(request, session, project, user, error=None, created=created)


@router.post("/projects/{pid}/settings")
def save_settings(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    try:
        settings = validate_settings(project.kind, settings_from_form(project.kind, form))
        data = ProjectUpdate(
            name=str(form.get("name", project.name)),
            instructions=str(form.get("instructions", "")),
            settings=settings,
            is_private=form.get("is_private") == "on",
        )
    except ValidationError as exc:
        typed = {k: v for k, v in form.items() if isinstance(v, str)}
        return _settings_form(
            request, session, project, user, error=_errors(exc), typed=typed, status_code=422
        )
    service.update_project(session, project=project, data=data, user=user)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.post("/projects/{pid}/archive")
def archive(
    project: ProjectAsLead, user: CurrentUser, session: SessionDep, restore: bool = Form(False)
) -> Response:
    service.archive_project(session, project=project, user=user, archived=not restore)
    return RedirectResponse("/" if not restore else f"/projects/{project.id}", status_code=303)


@router.get("/projects/{pid}/members")
def members_page(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    members = service.list_members(session, project=project)
    member_ids = {u.id for _, u in members}
    others = [
        u for u in auth_service.all_users(session, active_only=True, by_email=True) if u.id not in member_ids
    ]
    return render(
        request,
        "projects/members.html",
        _ctx(session, project, user, members=members, others=others),
        block="members",
    )


@router.post("/projects/{pid}/members")
def add_member(
    request: Request,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    user_id: int = Form(..., ge=1, le=MAX_ID),
    role: str = Form(...),
) -> Response:
    service.set_member(session, project=project, user_id=user_id, role=role, actor=user)
    return members_page(request, project, user, session)


@router.post("/projects/{pid}/members/{user_id}/remove")
def remove_member(
    request: Request, user_id: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    service.remove_member(session, project=project, user_id=user_id, actor=user)
    session.flush()
    return members_page(request, project, user, session)


@router.get("/projects/{pid}/import")
def import_page(request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep) -> Response:
    return render(
        request, "projects/import.html", _ctx(session, project, user, result=None, errors=None, job=None)
    )


@router.post("/projects/{pid}/import")
def import_upload(
    request: Request,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    file: UploadFile = File(...),
    mapping: str = Form(""),
) -> Response:
    settings = get_settings()
    filename = file.filename or "upload.jsonl"
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)

    def outcome(status: int, **found: Any) -> Response:
        """The page's outcome block: the import's result, its bad rows, or the job now running it."""
        context = {"result": None, "errors": None, "job": None, **found}
        return render(
            request,
            "projects/import.html",
            _ctx(session, project, user, **context),
            block="outcome",
            status_code=status,
        )

    try:
        if size == 0:
            raise InvalidInput("the file is empty")
        if size > settings.max_upload_mb * 1024 * 1024:
            raise InvalidInput(f"the file is larger than {settings.max_upload_mb} MB")
        parsed = parse_mapping(mapping or None)

        def queued() -> Response:
            file.file.seek(0)
            job = start_import_job(
                session,
                project=project,
                user=user,
                path=store_upload(file.file),
                filename=filename,
                mapping=mapping or None,
            )
            return outcome(202, job=job)

        if size > settings.import_inline_max_bytes:
            return queued()
        # A savepoint, so a rejected file rolls back its rows but the page still renders normally.
        try:
            with session.begin_nested(), rows_of(file.file, filename=filename) as (rows, images):
                result = import_inline(
                    session,
                    project=project,
                    raw_rows=rows,
                    mapping=parsed,
                    actor_id=user.id,
                    source=filename,
                    images=images,
                )
        except NeedsWorker:  # images by URL: the worker fetches them, so it imports the whole file
            return queued()

    except ImportRejected as exc:
        return outcome(422, errors=exc)
    except (PreflabError, ValueError) as exc:
        message = exc.message if isinstance(exc, PreflabError) else str(exc)
        return outcome(422, errors=ImportRejected([{"line": 0, "message": message}], 1))
    return outcome(201, result=result)
