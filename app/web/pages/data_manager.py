"""The data manager (the project's Tasks tab): the grid with its filters, a task opened beside it, bulk
actions and the selection's download. Reviewers and leads see it; bulk actions, flags
and history are the leads'."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData, QueryParams
from starlette.responses import Response, StreamingResponse

from app.auth.policies import get_in_project, role_in
from app.core.errors import InvalidInput
from app.datamanager import bulk
from app.datamanager.detail import task_detail
from app.datamanager.export import stream_selection
from app.datamanager.grid import GridPage, list_tasks
from app.datamanager.params import from_fields, is_filtered, problems, query_string, to_fields
from app.datamanager.schemas import (
    ACTION_LABELS,
    SORT_LABELS,
    BulkRequest,
    BulkResult,
    TaskFilter,
    TaskSelection,
)
from app.kinds.forms import LETTERS
from app.models import Project, Role, Task, User
from app.web.deps import CurrentUser, IdPath, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import render

router = APIRouter()
PAGE = 50


def _fields(source: QueryParams | FormData) -> dict[str, list[str]]:
    return {key: [v for v in source.getlist(key) if isinstance(v, str)] for key in source}


def _ctx(session: SessionDep, project: Project, user: User, **extra: Any) -> dict[str, Any]:
    role = role_in(session, project_id=project.id, user=user)
    lead = role is not None and role >= Role.lead
    return {"project": project, "role": role, "Role": Role, "lead": lead, "sort_labels": SORT_LABELS,
            "action_labels": ACTION_LABELS, "letters": LETTERS, **extra}  # fmt: skip


def _grid(
    request: Request,
    session: SessionDep,
    project: Project,
    user: User,
    *,
    wanted: TaskFilter,
    sort: str,
    cursor: str | None = None,
    block: str | None = "grid",
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = _ctx(session, project, user, **extra)
    page: GridPage = list_tasks(session, project, wanted, sort=sort, cursor=cursor, limit=PAGE,
                                flags_visible=ctx["lead"])  # fmt: skip
    more = query_string(wanted, sort, cursor=page.next_cursor or "")
    ctx.update(page=page, form=to_fields(wanted, sort), filtered=is_filtered(wanted),
               query=query_string(wanted, sort), more_query=more)  # fmt: skip
    return render(request, "projects/tasks.html", ctx, block=block, status_code=status_code)


@router.get("/projects/{pid}/tasks")
def tasks_page(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep, cursor: str = ""
) -> Response:
    try:
        wanted, sort = from_fields(_fields(request.query_params))
    except InvalidInput as exc:  # the filter form comes back as typed, with what is wrong
        typed = {
            k: (v if k == "status" else (v or [""])[0]) for k, v in _fields(request.query_params).items()
        }
        ctx = _ctx(session, project, user, page=GridPage([], None), form=typed, filtered=True, query="",
                   more_query="", error=exc.message)  # fmt: skip
        return render(request, "projects/tasks.html", ctx, block="grid", status_code=422)
    # htmx asks for the rows after `cursor` ("Load more"); the filter form reloads the page
    block = "rows" if cursor else "grid"
    return _grid(
        request, session, project, user, wanted=wanted, sort=sort, cursor=cursor or None, block=block
    )


@router.get("/projects/{pid}/tasks/{tid}")
def task_panel(
    request: Request, tid: IdPath, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    """One task with everything about it: beside the grid (htmx), or as a page of its own."""
    task = get_in_project(session, Task, tid, project, missing=f"task {tid} not found in this project")
    ctx = _ctx(session, project, user)
    ctx["detail"] = task_detail(session, project, task, lead=ctx["lead"])
    ctx["back"] = request.query_params.get("back", "")
    return render(request, "projects/task_detail.html", ctx, block="panel")


def _request_of(form: FormData, wanted: TaskFilter) -> BulkRequest:
    scope = str(form.get("scope") or "selected")
    ids = [int(v) for v in form.getlist("task_ids") if isinstance(v, str) and v.isdigit()]
    if scope == "selected" and not ids:
        raise InvalidInput("select some tasks first, or choose every task matching the filter")
    priority = str(form.get("priority") or "").strip()
    try:
        return BulkRequest(
            action=str(form.get("action") or ""),
            task_ids=ids if scope == "selected" else None,
            filter=wanted if scope == "filter" else None,
            priority=int(priority) if priority.lstrip("-").isdigit() else None,
            more=int(str(form.get("more") or "1")) if str(form.get("more") or "1").isdigit() else 0,
            confirm=form.get("confirm") == "yes",
        )
    except ValidationError as exc:
        raise InvalidInput(problems(exc).replace("Value error, ", "")) from None


def _done(result: BulkResult) -> str:
    what = ACTION_LABELS[result.action].split(" (")[0].lower()
    note = f"{what}: {result.changed} of {result.matched} task(s) changed"
    if result.skipped:
        note += f"; {result.skipped} without a clear answer to make gold were left as they were"
    return note[0].upper() + note[1:] + "."


@router.post("/projects/{pid}/tasks/bulk")
def bulk_page(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    """A bulk action from the grid's toolbar; answers with the grid again (its first page) and what was
    done."""
    wanted, sort = from_fields(_fields(form))
    try:
        with session.begin_nested():
            result = bulk.run_bulk(session, project=project, request=_request_of(form, wanted), user=user)
    except InvalidInput as exc:
        return _grid(
            request, session, project, user, wanted=wanted, sort=sort, error=exc.message, status_code=422
        )
    return _grid(request, session, project, user, wanted=wanted, sort=sort, notice=_done(result))


@router.post("/projects/{pid}/tasks/export")
def export_page(project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep) -> Response:
    """The selected tasks (or every task the filter matches) as a JSON Lines download."""
    wanted, _ = from_fields(_fields(form))
    ids = [int(v) for v in form.getlist("task_ids") if isinstance(v, str) and v.isdigit()]
    if form.get("scope") == "filter":
        selection = TaskSelection(filter=wanted)
    elif ids:
        selection = TaskSelection(task_ids=ids)
    else:
        raise InvalidInput("select some tasks first, or choose every task matching the filter")
    target, count = bulk.count_of(session, project, selection)
    bulk.log_export(session, project=project, selection=selection, user=user, count=count)
    return StreamingResponse(
        stream_selection(target),
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="project-{project.id}-tasks.jsonl"'},
    )
