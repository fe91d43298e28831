"""A person's inbox: the notifications comments left them, newest first, with what each links to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth import policies
from app.comments.mentions import display_name
from app.core.errors import NotFound
from app.models import Comment, Member, Notification, Project, Role, User, utcnow

EXCERPT_CHARS = 160


@dataclass
class NotificationView:
    id: int
    kind: str
    comment_id: int
    project_id: int
    project: str
    task_id: int
    author: str
    excerpt: str
    created_at: datetime
    read_at: datetime | None
    url: str


def unread_count(session: Session, user: User) -> int:
    """Unread notifications of projects the user is still in (the inbox shows no others)."""
    stmt = select(func.count()).select_from(Notification)
    stmt = stmt.where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if not user.is_admin:
        mine = select(Member.project_id).where(Member.user_id == user.id)
        stmt = stmt.join(Comment, Comment.id == Notification.comment_id).where(Comment.project_id.in_(mine))
    return session.scalar(stmt) or 0


def comment_url(session: Session, *, comment: Comment, user: User) -> str:
    """Reviewers and leads read a task's comments on its review page; annotators on the task's thread
    page (the annotate page shows whichever task comes next, not this one)."""
    role = policies.role_in(session, project_id=comment.project_id, user=user)
    if role is not None and role >= Role.reviewer:
        return f"/projects/{comment.project_id}/review/{comment.task_id}#comment-{comment.id}"
    return f"/projects/{comment.project_id}/tasks/{comment.task_id}/comments#comment-{comment.id}"


def inbox_of(session: Session, user: User, *, limit: int = 100) -> list[NotificationView]:
    rows = session.execute(
        select(Notification, Comment, Project.name, User)
        .join(Comment, Comment.id == Notification.comment_id)
        .join(Project, Project.id == Comment.project_id)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
    views = []
    for n, c, project_name, author in rows:
        # A notification outlives the reader's access (removed from the project): it is not shown then.
        if not policies.may_read_comment(session, comment=c, user=user):
            continue
        text = " ".join(c.body.split())
        views.append(NotificationView(
            id=n.id, kind=n.kind, comment_id=c.id, project_id=c.project_id, project=project_name,
            task_id=c.task_id, author=display_name(author) if author else "(deleted user)",
            excerpt=text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…",
            created_at=n.created_at, read_at=n.read_at, url=comment_url(session, comment=c, user=user),
        ))  # fmt: skip
    return views


def mark_read(session: Session, user: User, *, ids: list[int] | None) -> int:
    """Mark the user's notifications read: these ids, or all of them (ids=None). Others' ids are ignored."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    result = session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def open_notification(session: Session, user: User, notification_id: int) -> str:
    """Mark one notification read and say where its comment is shown."""
    n = policies.own(session.get(Notification, notification_id), user, missing="notification not found")
    comment = session.get(Comment, n.comment_id)
    if comment is None or not policies.may_read_comment(session, comment=comment, user=user):
        raise NotFound("notification not found")
    if n.read_at is None:
        n.read_at = utcnow()
        session.flush()
    return comment_url(session, comment=comment, user=user)
