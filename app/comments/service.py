"""Comments: threads on a task or on one of its annotations, edited and resolved, telling the people they
mention (and a thread's author, of replies) in their inbox. Who may read what is app/auth/policies.py's;
the web layer passes the caller's role on the task (policies.comment_role / comment_for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import policies
from app.comments.mentions import display_name, mentioned_members
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.security import pseudonym
from app.models import Annotation, Comment, Notification, Project, Role, Task, User, utcnow


@dataclass
class CommentView:
    """A comment as one reader sees it (names, and what that reader may do with it)."""

    id: int
    task_id: int
    annotation_uuid: str | None
    parent_id: int | None
    author_id: int | None
    author: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    mine: bool
    may_resolve: bool
    replies: list[CommentView] = field(default_factory=list)


@dataclass
class Threads:
    """A task's threads for one reader: on the task, and per annotation uuid."""

    on_task: list[CommentView]
    on_annotation: dict[str, list[CommentView]]
    open_count: int
    # the task's answers the reader may discuss, uuid -> how they are named ("your answer", a pseudonym)
    answers: dict[str, str] = field(default_factory=dict)


def _names(session: Session, project: Project, comments: list[Comment], owners: dict[int, int]) -> dict:
    ids = {c.author_id for c in comments} | {c.resolved_by_id for c in comments}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids - {None})))}
    return {"users": users, "owners": owners, "reveal": bool(project.settings.get("reveal_annotators"))}


def _author(names: dict, comment: Comment, reader: User) -> str:
    """An annotator writing on their own annotation is named as the review pages name them (a pseudonym
    unless the project reveals annotators): the thread must not undo the review's blindness."""
    user = names["users"].get(comment.author_id)
    if user is None:
        return "(deleted user)"
    owner = names["owners"].get(comment.annotation_id) if comment.annotation_id else None
    own_answer = owner is not None and policies.is_own(owner, user)
    if own_answer and not names["reveal"] and not policies.is_comment_author(comment, reader):
        return pseudonym(comment.project_id, user.id) or ""
    return display_name(user)


def _view(names: dict, uuids: dict[int, str], c: Comment, reader: User, role: Role) -> CommentView:
    resolver = names["users"].get(c.resolved_by_id)
    return CommentView(
        id=c.id, task_id=c.task_id, annotation_uuid=uuids.get(c.annotation_id) if c.annotation_id else None,
        parent_id=c.parent_id, author_id=c.author_id, author=_author(names, c, reader), body=c.body,
        created_at=c.created_at, edited_at=c.edited_at, resolved_at=c.resolved_at,
        resolved_by=display_name(resolver) if resolver else None,
        mine=policies.is_comment_author(c, reader), may_resolve=policies.may_resolve(c, role, reader),
    )  # fmt: skip


def _annotations_of(session: Session, comments: list[Comment]) -> dict[int, tuple[str, int]]:
    ids = {c.annotation_id for c in comments if c.annotation_id is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(Annotation.id, Annotation.uuid, Annotation.user_id).where(Annotation.id.in_(ids))
    )
    return {aid: (uuid, uid) for aid, uuid, uid in rows}


def views_of(
    session: Session, *, project: Project, comments: list[Comment], reader: User, role: Role
) -> list[CommentView]:
    annotations = _annotations_of(session, comments)
    names = _names(session, project, comments, {a: uid for a, (_, uid) in annotations.items()})
    uuids = {a: uuid for a, (uuid, _) in annotations.items()}
    return [_view(names, uuids, c, reader, role) for c in comments]


def comments_on(session: Session, *, task: Task, reader: User, role: Role) -> list[Comment]:
    """The task's comments the reader may read, oldest first."""
    stmt = select(Comment).where(Comment.task_id == task.id).order_by(Comment.id)
    return list(session.scalars(policies.readable_comments(stmt, role, reader)))


def threads_of(session: Session, *, project: Project, task: Task, reader: User, role: Role) -> Threads:
    comments = comments_on(session, task=task, reader=reader, role=role)
    views = views_of(session, project=project, comments=comments, reader=reader, role=role)
    roots = {v.id: v for v in views if v.parent_id is None}
    for v in views:
        if v.parent_id is not None and v.parent_id in roots:
            roots[v.parent_id].replies.append(v)
    threads = Threads(
        on_task=[], on_annotation={}, open_count=0, answers=_answers(session, project, task, reader, role)
    )
    for root in roots.values():
        if root.annotation_uuid is None:
            threads.on_task.append(root)
        else:
            threads.on_annotation.setdefault(root.annotation_uuid, []).append(root)
        threads.open_count += root.resolved_at is None
    return threads


def _answers(session: Session, project: Project, task: Task, reader: User, role: Role) -> dict[str, str]:
    reveal = bool(project.settings.get("reveal_annotators"))
    rows = session.execute(
        select(Annotation.uuid, Annotation.user_id, User.email)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.task_id == task.id)
        .order_by(Annotation.id)
    )
    named = {}
    for uuid, uid, email in rows:
        if policies.is_own(uid, reader):
            named[uuid] = "your answer"
        elif policies.sees_annotation_thread(uid, role, reader):
            named[uuid] = f"the answer of {email if reveal else pseudonym(project.id, uid)}"
    return named


def _annotation_for(session: Session, task: Task, uuid: str, reader: User, role: Role) -> Annotation:
    annotation = session.scalar(select(Annotation).where(Annotation.uuid == uuid))
    if (
        annotation is None
        or annotation.task_id != task.id
        or not policies.sees_annotation_thread(annotation.user_id, role, reader)
    ):
        raise NotFound("annotation not found on this task")
    return annotation


def post_comment(
    session: Session,
    *,
    task: Task,
    author: User,
    role: Role,
    body: str,
    parent_id: int | None = None,
    annotation_uuid: str | None = None,
) -> tuple[Comment, list[User]]:
    """A new comment, or a reply (in the thread of `parent_id`, on what that thread is on); returns it
    and the people told of it."""
    annotation_id = None
    if parent_id is not None:
        parent, _ = policies.comment_for(session, comment_id=parent_id, user=author)
        if parent.task_id != task.id:
            raise NotFound(f"comment {parent_id} not found on this task")
        parent_id = parent.parent_id or parent.id  # threads are one level deep: a reply joins the thread
        annotation_id = parent.annotation_id
    elif annotation_uuid:
        annotation_id = _annotation_for(session, task, annotation_uuid, author, role).id
    comment = Comment(project_id=task.project_id, task_id=task.id, annotation_id=annotation_id,
                      parent_id=parent_id, author_id=author.id, body=body)  # fmt: skip
    session.add(comment)
    session.flush()
    return comment, _notify(session, comment=comment, author=author, body=body)


def _notify(session: Session, *, comment: Comment, author: User, body: str) -> list[User]:
    """Mentioned members who may read the comment, and the thread's author on a reply; never the author.
    A person mentioned who may not read it (another annotator, on an annotation's thread) is not told."""
    told: dict[int, tuple[User, str]] = {}
    if comment.parent_id is not None:
        root = session.get(Comment, comment.parent_id)
        starter = session.get(User, root.author_id) if root and root.author_id else None
        if starter is not None:
            told[starter.id] = (starter, "reply")
    for user in mentioned_members(session, project_id=comment.project_id, body=body):
        told[user.id] = (user, "mention")
    already = set(session.scalars(select(Notification.user_id).where(Notification.comment_id == comment.id)))
    sent = []
    for user, why in told.values():
        if policies.is_own(user.id, author) or user.id in already:
            continue
        if policies.may_read_comment(session, comment=comment, user=user):
            session.add(Notification(user_id=user.id, kind=why, comment_id=comment.id))
            sent.append(user)
    session.flush()
    return sent


def edit_comment(session: Session, *, comment: Comment, user: User, body: str) -> list[User]:
    """A new body from its author; people it newly mentions are told."""
    policies.require_comment_author(comment, user, doing="edit")
    if body != comment.body:
        comment.body = body
        comment.edited_at = utcnow()
        session.flush()
    return _notify(session, comment=comment, author=user, body=body)


def set_resolved(session: Session, *, comment: Comment, user: User, role: Role, resolved: bool) -> Comment:
    if comment.parent_id is not None:
        raise InvalidInput("a thread is resolved on its first comment, not on a reply")
    if not policies.may_resolve(comment, role, user):
        raise Forbidden("a thread is resolved by its author, a reviewer or a lead")
    if resolved and comment.resolved_at is None:
        comment.resolved_at, comment.resolved_by_id = utcnow(), user.id
    elif not resolved:
        comment.resolved_at = comment.resolved_by_id = None
    session.flush()
    return comment


def delete_comment(session: Session, *, comment: Comment, user: User) -> None:
    """Its author deletes a comment; one that others replied to stays (edit it instead), so nobody's
    reply is lost with it."""
    policies.require_comment_author(comment, user, doing="delete")
    replies = list(session.scalars(select(Comment).where(Comment.parent_id == comment.id)))
    if any(not policies.is_comment_author(r, user) for r in replies):
        raise Conflict("others replied to this comment, so it stays; edit it instead")
    for reply in replies:
        session.delete(reply)
    session.delete(comment)
    session.flush()
