from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth.policies import role_in
from app.projects import service
from app.projects.schemas import MemberRead, MemberSet, ProjectCreate, ProjectRead, ProjectUpdate
from app.web.api.v1.pagination import Cursor, Limit, Page, next_cursor, parse_cursor
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, ProjectAsLead, ProjectCreator, SessionDep

router = APIRouter(tags=["projects"])


@router.get("/projects")
def list_projects(
    user: CurrentUser,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
    include_archived: bool = False,
) -> Page[ProjectRead]:
    rows = service.visible_projects(
        session, user=user, include_archived=include_archived, cursor=parse_cursor(cursor), limit=limit
    )
    counts = service.project_counts(session, [p.id for p, _ in rows])
    return Page(
        items=[service.to_read(p, counts[p.id], role) for p, role in rows],
        next_cursor=next_cursor([p.id for p, _ in rows], limit),
    )


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreate, creator: ProjectCreator, session: SessionDep) -> ProjectRead:
    """Admins, or any signed-in user when the instance setting allows it; the creator leads it."""
    project = service.create_project(session, data=body, user=creator)
    return service.read_project(session, project, "lead")


@router.get("/projects/{pid}")
def get_project(project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> ProjectRead:
    role = role_in(session, project_id=project.id, user=user)
    return service.read_project(session, project, role.name if role else None)


@router.patch("/projects/{pid}")
def update_project(
    body: ProjectUpdate, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> ProjectRead:
    service.update_project(session, project=project, data=body, user=user)
    return service.read_project(session, project)


@router.delete("/projects/{pid}", status_code=204)
def archive_project(project: ProjectAsLead, user: CurrentUser, session: SessionDep) -> Response:
    service.archive_project(session, project=project, user=user)
    return Response(status_code=204)


@router.get("/projects/{pid}/members")
def list_members(project: ProjectAsLead, session: SessionDep) -> list[MemberRead]:
    return [
        MemberRead(user_id=u.id, email=u.email, name=u.name, role=m.role)
        for m, u in service.list_members(session, project=project)
    ]


@router.put("/projects/{pid}/members/{user_id}")
def set_member(
    user_id: IdPath, body: MemberSet, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> MemberRead:
    member, known = service.set_member_answer(
        session, project=project, user_id=user_id, role=body.role, actor=user
    )
    return MemberRead(
        user_id=member.user_id,
        email=known.email if known else None,
        name=known.name if known else None,
        role=member.role,
    )


@router.delete("/projects/{pid}/members/{user_id}", status_code=204)
def remove_member(
    user_id: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    service.remove_member(session, project=project, user_id=user_id, actor=user)
    return Response(status_code=204)
