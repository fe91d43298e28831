"""Comments on tasks and annotations, and the caller's inbox."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth.policies import comment_for, comment_role
from app.comments import inbox, service
from app.comments.mentions import display_name
from app.comments.schemas import (
    CommentCreate,
    CommentPatch,
    CommentPosted,
    CommentRead,
    InboxMark,
    InboxRead,
    NotificationRead,
)
from app.models import Comment, Project, Role, User
from app.web.deps import CurrentUser, IdPath, SessionDep, TaskAsAnnotator

router = APIRouter(tags=["comments"])


def _read(session: SessionDep, comment: Comment, user: User, role: Role) -> CommentRead:
    project = session.get_one(Project, comment.project_id)
    (view,) = service.views_of(session, project=project, comments=[comment], reader=user, role=role)
    return CommentRead.model_validate(view)


@router.get("/tasks/{tid}/comments")
def list_comments(task: TaskAsAnnotator, user: CurrentUser, session: SessionDep) -> list[CommentRead]:
    """Every comment on the task the caller may read, oldest first (a reply names its thread: parent_id)."""
    role = comment_role(session, task=task, user=user)
    project = session.get_one(Project, task.project_id)
    comments = service.comments_on(session, task=task, reader=user, role=role)
    views = service.views_of(session, project=project, comments=comments, reader=user, role=role)
    return [CommentRead.model_validate(v) for v in views]


@router.post("/tasks/{tid}/comments", status_code=201)
def post_comment(
    body: CommentCreate, task: TaskAsAnnotator, user: CurrentUser, session: SessionDep
) -> CommentPosted:
    role = comment_role(session, task=task, user=user)
    comment, told = service.post_comment(
        session, task=task, author=user, role=role, body=body.body, parent_id=body.parent_id,
        annotation_uuid=body.annotation_uuid,
    )  # fmt: skip
    read = _read(session, comment, user, role)
    return CommentPosted(**read.model_dump(), notified=[display_name(u) for u in told])


@router.patch("/comments/{cid}")
def patch_comment(cid: IdPath, body: CommentPatch, user: CurrentUser, session: SessionDep) -> CommentRead:
    """A new body (its author), resolved or reopened (its author, a reviewer or a lead)."""
    comment, role = comment_for(session, comment_id=cid, user=user)
    if body.body is not None:
        service.edit_comment(session, comment=comment, user=user, body=body.body)
    if body.resolved is not None:
        service.set_resolved(session, comment=comment, user=user, role=role, resolved=body.resolved)
    return _read(session, comment, user, role)


@router.delete("/comments/{cid}", status_code=204)
def delete_comment(cid: IdPath, user: CurrentUser, session: SessionDep) -> Response:
    comment, _ = comment_for(session, comment_id=cid, user=user)
    service.delete_comment(session, comment=comment, user=user)
    return Response(status_code=204)


def _inbox(session: SessionDep, user: User) -> InboxRead:
    items = [NotificationRead.model_validate(n) for n in inbox.inbox_of(session, user)]
    return InboxRead(unread=inbox.unread_count(session, user), items=items)


@router.get("/inbox")
def get_inbox(user: CurrentUser, session: SessionDep) -> InboxRead:
    """The caller's notifications, newest first (the latest 100), and how many are unread."""
    return _inbox(session, user)


@router.post("/inbox/read")
def mark_read(body: InboxMark, user: CurrentUser, session: SessionDep) -> InboxRead:
    inbox.mark_read(session, user, ids=None if body.all else body.ids)
    return _inbox(session, user)
