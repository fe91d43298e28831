"""The data manager's API: a project's tasks filtered, sorted and paged by keyset; bulk actions on task ids or
on a whole filter; a selection's raw JSON Lines. The page (app/web/pages/data_manager.py) does the same."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.responses import StreamingResponse

from app.auth.policies import role_in
from app.core.errors import InvalidInput
from app.datamanager import bulk
from app.datamanager.export import stream_selection
from app.datamanager.grid import as_read, list_tasks
from app.datamanager.params import problems
from app.datamanager.schemas import (
    BulkRequest,
    BulkResult,
    Sort,
    Status,
    TaskFilter,
    TaskGridPage,
    TaskSelection,
)
from app.models import Role
from app.web.api.v1.pagination import Cursor, Limit
from app.web.deps import CurrentUser, ProjectAsLead, ProjectAsReviewer, SessionDep

router = APIRouter(tags=["tasks"])


def _meta(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"meta: write key=value, not {pair!r}", field="meta")
        found[key] = value
    return found


@router.get("/projects/{pid}/tasks")
def list_project_tasks(
    project: ProjectAsReviewer,
    user: CurrentUser,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
    status: Annotated[list[Status] | None, Query(description="any of these (repeat the parameter)")] = None,
    min_annotations: Annotated[int | None, Query(ge=0)] = None,
    max_annotations: Annotated[int | None, Query(ge=0)] = None,
    min_agreement: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_agreement: Annotated[float | None, Query(ge=0, le=1)] = None,
    has_suggestion: bool | None = None,
    gold: bool | None = None,
    flagged: Annotated[bool | None, Query(description="leads only")] = None,
    meta: Annotated[list[str] | None, Query(description="key=value: a meta field's value (repeat)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the prompt")] = None,
    sort: Annotated[Sort, Query(description="a column, '-' first for descending; ties by id")] = "id",
) -> TaskGridPage:
    """The project's tasks, filtered and sorted, a page at a time: pass next_cursor back as cursor (with the
    same filter and sort) until it is null. Without filters and sort, the pages are those this route always
    answered (id order, the cursor the last id)."""
    try:
        wanted = TaskFilter(
            status=status or [],
            min_annotations=min_annotations,
            max_annotations=max_annotations,
            min_agreement=min_agreement,
            max_agreement=max_agreement,
            has_suggestion=has_suggestion,
            gold=gold,
            flagged=flagged,
            meta=_meta(meta or []),
            q=q,
        )
    except ValidationError as exc:
        raise InvalidInput(f"the filter is not valid: {problems(exc)}") from None
    lead = (role_in(session, project_id=project.id, user=user) or Role.annotator) >= Role.lead
    page = list_tasks(session, project, wanted, sort=sort, cursor=cursor, limit=limit, flags_visible=lead)
    return TaskGridPage(
        items=as_read(page, flags_visible=lead),
        next_cursor=page.next_cursor,
        agreement_pending=page.agreement_pending,
    )


@router.post("/projects/{pid}/tasks/bulk")
def bulk_action(
    body: BulkRequest, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> BulkResult:
    """One action on the tasks named by id or on every task a filter matches; each change is audited (one
    event per task, and one for the request)."""
    return bulk.run_bulk(session, project=project, request=body, user=user)


@router.post(
    "/projects/{pid}/tasks/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/jsonl": {}}, "description": "one JSON line per task"}},
)
def export_selection(
    body: TaskSelection, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> StreamingResponse:
    """The tasks named by id or matched by a filter as JSON Lines (each task with its annotations),
    streamed in id order."""
    ids, count = bulk.count_of(session, project, body)
    bulk.log_export(session, project=project, selection=body, user=user, count=count)
    return StreamingResponse(
        stream_selection(ids),
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="project-{project.id}-tasks.jsonl"'},
    )
