from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.policies import get_in_project, own, project_for
from app.core.errors import NotFound
from app.labeling import service
from app.labeling.queue import MAX_AHEAD, next_for_api
from app.labeling.schemas import (
    AnnotationPatch,
    AnnotationPut,
    AnnotationRead,
    AssignmentRead,
    FlagCreate,
    FlagRead,
    NextTask,
    SkipBody,
)
from app.models import Annotation, Assignment, Role, TaskFlag
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of
from app.web.deps import (
    CurrentUser,
    IdPath,
    ProjectAsLead,
    ProjectAsReviewer,
    SessionDep,
    TaskAsAnnotator,
    authenticate,
)

router = APIRouter(tags=["annotating"])


def get_my_assignment(aid: IdPath, user: CurrentUser, session: SessionDep) -> Assignment:
    assignment = own(session.get(Assignment, aid), user, missing=f"assignment {aid} not found")
    project_for(session, project_id=assignment.project_id, user=user, need=Role.annotator)
    return assignment


MyAssignment = Annotated[Assignment, Depends(get_my_assignment)]


def get_visible_annotation(uuid: str, user: CurrentUser, session: SessionDep) -> Annotation:
    """One's own annotations; others' only for reviewers and leads of the project (annotators are blind)."""
    annotation = service.annotation_by_uuid(session, uuid)
    if annotation is None:
        raise NotFound("annotation not found")
    need = Role.annotator if annotation.user_id == user.id else Role.reviewer
    try:
        project_for(session, project_id=annotation.project_id, user=user, need=need)
    except NotFound:
        raise NotFound("annotation not found") from None
    return annotation


VisibleAnnotation = Annotated[Annotation, Depends(get_visible_annotation)]


@router.post(
    "/projects/{pid}/next", response_model=NextTask, responses={204: {"description": "nothing left"}}
)
def next_task(
    request: Request, pid: IdPath, session: SessionDep, ahead: Annotated[int, Query(ge=0, le=MAX_AHEAD)] = 0
) -> object:
    # The annotation loop's two routes check access in their own body (the same calls the dependencies
    # make): one thread hop per request instead of three.
    user = authenticate(request, session)
    project = project_for(session, project_id=pid, user=user, need=Role.annotator)
    answer = next_for_api(session, project=project, user_id=user.id, ahead=ahead)
    if answer is None:
        return Response(status_code=204)
    # The hot path of every annotation: serialized straight from one row, no ORM objects.
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/assignments/{aid}/skip")
def skip_assignment(
    body: SkipBody, assignment: MyAssignment, user: CurrentUser, session: SessionDep
) -> AssignmentRead:
    return AssignmentRead.model_validate(
        service.skip(session, assignment=assignment, user=user, reason=body.reason)
    )


@router.put(
    "/annotations/{uuid}",
    status_code=201,
    response_model=AnnotationRead,
    responses={200: {"description": "a repeat: the stored annotation", "model": AnnotationRead}},
)
def put_annotation(request: Request, uuid: str, body: AnnotationPut, session: SessionDep) -> object:
    user = authenticate(request, session)  # one thread hop, as in next_task
    submitted = service.submit_annotation(session, annotation_uuid=uuid, user=user, body=body)
    read = AnnotationRead.model_validate(submitted.annotation)
    if submitted.created:
        return read
    return JSONResponse(read.model_dump(mode="json"), status_code=200)


@router.patch("/annotations/{uuid}")
def patch_annotation(
    uuid: str, body: AnnotationPatch, user: CurrentUser, session: SessionDep
) -> AnnotationRead:
    annotation = service.edit_annotation(
        session, annotation_uuid=uuid, user=user, result=body.result, lead_time_ms=body.lead_time_ms
    )
    return AnnotationRead.model_validate(annotation)


@router.get("/annotations/{uuid}")
def get_annotation(annotation: VisibleAnnotation) -> AnnotationRead:
    return AnnotationRead.model_validate(annotation)


@router.get("/projects/{pid}/annotations")
def list_annotations(
    project: ProjectAsReviewer, session: SessionDep, cursor: Cursor = None, limit: Limit = 100
) -> Page[AnnotationRead]:
    page = page_of(session, service.annotations_of(project), Annotation.id, cursor=cursor, limit=limit)
    return Page(items=[AnnotationRead.model_validate(x) for x in page.items], next_cursor=page.next_cursor)


@router.post("/tasks/{tid}/flags", status_code=201)
def flag_task(body: FlagCreate, task: TaskAsAnnotator, user: CurrentUser, session: SessionDep) -> FlagRead:
    return FlagRead.model_validate(
        service.flag_task(session, task=task, user=user, reason=body.reason, comment=body.comment)
    )


@router.get("/projects/{pid}/flags")
def list_flags(project: ProjectAsLead, session: SessionDep, include_resolved: bool = False) -> list[FlagRead]:
    flags = service.flags_of(session, project, include_resolved=include_resolved)
    return [FlagRead.model_validate(f) for f in flags]


@router.post("/projects/{pid}/flags/{fid}/resolve")
def resolve_flag(fid: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep) -> FlagRead:
    flag = get_in_project(session, TaskFlag, fid, project, missing=f"flag {fid} not found")
    return FlagRead.model_validate(service.resolve_flag(session, flag=flag, user=user))
