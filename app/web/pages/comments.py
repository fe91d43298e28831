"""Comment threads on a task's pages (the annotate page's panel, the review page, a task's thread page for
annotators) and the inbox. A page and its block share one URL: with HX-Request the threads' block."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.auth.policies import comment_for, comment_role, get_in_project, in_project, role_in
from app.comments import inbox, service
from app.comments.schemas import CommentCreate
from app.core.errors import PreflabError
from app.models import Project, Role, Task, User
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import is_htmx, render

router = APIRouter()


def _threads_page(
    request: Request,
    session: SessionDep,
    project: Project,
    task: Task,
    user: User,
    *,
    error: str | None = None,
    typed: FormData | None = None,
    status_code: int = 200,
) -> Response:
    """`typed`: the comment form that failed, shown again as it was filled in, beside its error."""
    role = comment_role(session, task=task, user=user)
    ctx: dict[str, Any] = {
        "project": project, "task": task, "me": user, "comment_role": role, "Role": Role,
        "role": role_in(session, project_id=project.id, user=user), "comment_error": error,
        "comment_typed": typed,
        "threads": service.threads_of(session, project=project, task=task, reader=user, role=role),
    }  # fmt: skip
    return render(request, "comments/thread.html", ctx, block="comments", status_code=status_code)


def _task(session: SessionDep, project: Project, tid: int) -> Task:
    return get_in_project(session, Task, tid, project, missing=f"task {tid} not found in this project")


@router.get("/projects/{pid}/tasks/{tid}/comments")
def thread_page(
    request: Request, tid: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    return _threads_page(request, session, project, _task(session, project, tid), user)


def _after(request: Request, project: Project, task: Task) -> Response | None:
    """Without htmx a form post goes back to the page it came from (303)."""
    if is_htmx(request):
        return None
    back = request.headers.get("referer", "")
    same_site = back.startswith(str(request.base_url))
    target = back if same_site else f"/projects/{project.id}/tasks/{task.id}/comments"
    return RedirectResponse(target, status_code=303)


def _form_error(exc: ValidationError) -> str:
    """What was wrong with the form, in the words the schema uses (without pydantic's "Value error, ")."""
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


@router.post("/projects/{pid}/tasks/{tid}/comments")
def post_comment_page(
    request: Request,
    tid: IdPath,
    project: ProjectAsAnnotator,
    user: CurrentUser,
    session: SessionDep,
    form: FormDep,
) -> Response:
    """A comment or a reply from a page's form; an error comes back in place, with what was typed."""
    task = _task(session, project, tid)
    fields = {k: str(form.get(k) or "") or None for k in ("parent_id", "annotation_uuid")}
    try:
        body = CommentCreate.model_validate({**fields, "body": str(form.get("body") or "")})
        with session.begin_nested():
            role = comment_role(session, task=task, user=user)
            service.post_comment(
                session, task=task, author=user, role=role, body=body.body, parent_id=body.parent_id,
                annotation_uuid=body.annotation_uuid,
            )  # fmt: skip
    except ValidationError as exc:
        return _threads_page(request, session, project, task, user, error=_form_error(exc), typed=form,
                             status_code=422)  # fmt: skip
    except PreflabError as exc:
        return _threads_page(request, session, project, task, user, error=exc.message, typed=form,
                             status_code=exc.status_code)  # fmt: skip
    return _after(request, project, task) or _threads_page(request, session, project, task, user)


@router.post("/projects/{pid}/comments/{cid}/resolve")
def resolve_page(
    request: Request, cid: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    """Resolve a thread, or reopen it (form field resolved=0)."""
    comment, role = comment_for(session, comment_id=cid, user=user)
    in_project(comment, project, missing=f"comment {cid} not found")
    resolved = request.query_params.get("resolved", "1") != "0"
    service.set_resolved(session, comment=comment, user=user, role=role, resolved=resolved)
    task = session.get_one(Task, comment.task_id)
    return _after(request, project, task) or _threads_page(request, session, project, task, user)


@router.post("/projects/{pid}/comments/{cid}/delete")
def delete_page(
    request: Request, cid: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    comment, _ = comment_for(session, comment_id=cid, user=user)
    in_project(comment, project, missing=f"comment {cid} not found")
    task = session.get_one(Task, comment.task_id)
    service.delete_comment(session, comment=comment, user=user)
    return _after(request, project, task) or _threads_page(request, session, project, task, user)


# ── the inbox ──


@router.get("/inbox")
def inbox_page(request: Request, user: CurrentUser, session: SessionDep, part: str = "") -> Response:
    """The page; with HX-Request and part=count only the unread badge in the top bar."""
    unread = inbox.unread_count(session, user)
    if part == "count" and is_htmx(request):
        return render(request, "comments/inbox.html", {"unread": unread}, block="count")
    ctx = {"unread": unread, "items": inbox.inbox_of(session, user)}
    return render(request, "comments/inbox.html", ctx, block="inbox")


@router.get("/inbox/{nid}")
def open_page(nid: IdPath, user: CurrentUser, session: SessionDep) -> Response:
    """Open a notification: it is read now, and its comment is shown where the reader works on the task."""
    return RedirectResponse(inbox.open_notification(session, user, nid), status_code=303)


@router.post("/inbox/read")
def read_page(request: Request, user: CurrentUser, session: SessionDep, form: FormDep) -> Response:
    """Mark one notification read (form field id), or all of them (all=1)."""
    ids = None if form.get("all") else [int(str(i)) for i in form.getlist("id") if str(i).isdigit()][:1000]
    inbox.mark_read(session, user, ids=ids)
    if not is_htmx(request):
        return RedirectResponse("/inbox", status_code=303)
    ctx = {"unread": inbox.unread_count(session, user), "items": inbox.inbox_of(session, user)}
    return render(request, "comments/inbox.html", ctx, block="inbox", headers={"HX-Trigger": "inbox-changed"})
