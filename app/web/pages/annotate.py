"""The annotate page: one page for every kind, driven by the keyboard (static/annotate.js).
The browser talks JSON to these routes (cookie session + CSRF header); task blocks are server-rendered
HTML, so Markdown, sanitizing and highlighting happen in one place."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth.policies import get_in_project, in_project
from app.labeling import service
from app.labeling.queue import MAX_AHEAD, Claim, claim_next_task
from app.labeling.schemas import AnnotationPut, FlagCreate
from app.models import Assignment, Project, Task, TaskFlag, User
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, ProjectAsLead, SessionDep
from app.web.templating import is_htmx, render

router = APIRouter()


class SubmitBody(BaseModel):
    uuid: str
    task_id: int
    assignment_id: int | None = None
    result: dict[str, Any]
    lead_time_ms: int | None = Field(None, ge=0)


class EditBody(BaseModel):
    uuid: str
    result: dict[str, Any]
    lead_time_ms: int | None = Field(None, ge=0)


class SkipBody(BaseModel):
    assignment_id: int
    reason: str | None = Field(None, max_length=500)


class FlagBody(FlagCreate):
    task_id: int


def _task_context(project: Project, claim: Claim | None) -> dict[str, Any]:
    if claim is None:
        return {"claim": None, "project": project}
    by_id = {str(r["id"]): r for r in claim.task.responses}
    shown = [by_id[rid] for rid in claim.assignment.order if rid in by_id]
    shown += [r for r in claim.task.responses if str(r["id"]) not in claim.assignment.order]
    return {
        "claim": claim,
        "project": project,
        "responses": shown,
        "annotation_uuid": str(uuid.uuid4()),
        "settings": project.settings,
    }


def _progress(session: SessionDep, project: Project, user: User) -> service.MyProgress:
    return service.my_progress(session, project=project, user=user)


@router.get("/projects/{pid}/annotate")
def annotate_page(
    request: Request,
    project: ProjectAsAnnotator,
    user: CurrentUser,
    session: SessionDep,
    ahead: Annotated[int, Query(ge=0, le=MAX_AHEAD)] = 0,
    part: Literal["task", "progress"] = "task",
) -> Response:
    """With HX-Request one block: the task (ahead=1: the one after it, which the page prefetches), or the
    annotator's progress (part=progress), which claims nothing."""
    progress = _progress(session, project, user)
    if part == "progress" and is_htmx(request):
        return render(request, "annotate/page.html", {"project": project, "progress": progress}, block=part)
    claim = claim_next_task(session, project=project, user=user, ahead=ahead)
    return render(
        request, "annotate/page.html", {**_task_context(project, claim), "progress": progress}, block="task"
    )


@router.post("/projects/{pid}/annotate/submit")
def submit(body: SubmitBody, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> Response:
    submitted = service.submit_annotation(
        session,
        annotation_uuid=body.uuid,
        user=user,
        body=AnnotationPut(
            task_id=body.task_id,
            result=body.result,
            lead_time_ms=body.lead_time_ms,
            assignment_id=body.assignment_id,
        ),
    )
    in_project(submitted.annotation, project, missing="task not found in this project")
    lease = (
        session.get(Assignment, submitted.annotation.assignment_id)
        if submitted.annotation.assignment_id
        else None
    )
    return JSONResponse(
        {
            "uuid": submitted.annotation.uuid,
            "created": submitted.created,
            "editable_until": lease.expires_at.isoformat() if lease else None,
        },
        status_code=201 if submitted.created else 200,
    )


@router.post("/projects/{pid}/annotate/edit")
def edit(body: EditBody, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> Response:
    """Undo from the annotate page: change the last answer while its lease would still be live."""
    annotation = service.undo_answer(
        session, project=project, user=user, annotation_uuid=body.uuid, result=body.result,
        lead_time_ms=body.lead_time_ms,
    )  # fmt: skip
    return JSONResponse({"uuid": annotation.uuid})


@router.post("/projects/{pid}/annotate/skip")
def skip(body: SkipBody, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> Response:
    assignment = get_in_project(
        session, Assignment, body.assignment_id, project, missing="assignment not found"
    )
    service.skip(session, assignment=assignment, user=user, reason=body.reason)
    return JSONResponse({"status": "skipped"})


@router.post("/projects/{pid}/annotate/flag")
def flag(body: FlagBody, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> Response:
    task = get_in_project(session, Task, body.task_id, project, missing="task not found")
    created = service.flag_task(session, task=task, user=user, reason=body.reason, comment=body.comment)
    return JSONResponse({"id": created.id}, status_code=201)


@router.post("/projects/{pid}/flags/{fid}/resolve")
def resolve_flag(
    request: Request, fid: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    found = get_in_project(session, TaskFlag, fid, project, missing="flag not found")
    service.resolve_flag(session, flag=found, user=user)
    if not is_htmx(request):
        return RedirectResponse(f"/projects/{project.id}", status_code=303)
    return render(request, "projects/detail.html", {"flag": found, "project": project}, block="flag")
