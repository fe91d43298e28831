"""Who may do what (DESIGN §3). Every route goes through these; nothing else decides access."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.auth import instance
from app.core.errors import Forbidden, NotFound
from app.models import (
    Annotation,
    Assignment,
    Comment,
    Job,
    Member,
    Project,
    Role,
    Snapshot,
    Task,
    TrainedModel,
    User,
)

T = TypeVar("T")

ROLE_ACTIONS = {
    Role.annotator: "annotate",
    Role.reviewer: "see others' annotations and review",
    Role.lead: "import, configure, pre-label and export",
}


def role_in(session: Session, *, project_id: int, user: User) -> Role | None:
    if user.is_admin:
        return Role.lead
    role = session.scalar(
        select(Member.role).where(Member.project_id == project_id, Member.user_id == user.id)
    )
    return Role[role] if role else None


def project_for(session: Session, *, project_id: int, user: User, need: Role) -> Project:
    """The project if the user may act on it with `need`; 404 for non-members so existence does not leak."""
    row = session.execute(
        select(Project, Member.role)
        .outerjoin(Member, (Member.project_id == Project.id) & (Member.user_id == user.id))
        .where(Project.id == project_id)
    ).first()
    project = row[0] if row else None
    role = (Role.lead if user.is_admin else Role[row[1]] if row[1] else None) if row else None
    if project is None or role is None:
        raise NotFound(f"project {project_id} not found")
    if role < need:
        raise Forbidden(f"you need the {need.name} role in this project to {ROLE_ACTIONS[need]}")
    return project


def within_project(session: Session, *, project_id: int | None, user: User, need: Role, missing: str) -> None:
    """Access to something that belongs to a project is access to the project; a caller who may not see
    the project gets `missing` (404), so the thing's existence does not leak either."""
    if project_id is None:
        raise NotFound(missing)
    try:
        project_for(session, project_id=project_id, user=user, need=need)
    except NotFound:
        raise NotFound(missing) from None


def task_for(session: Session, *, task_id: int, user: User, need: Role) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    within_project(
        session, project_id=task.project_id, user=user, need=need, missing=f"task {task_id} not found"
    )
    return task


def job_for(session: Session, *, job_id: int, user: User) -> Job:
    """Jobs of a project are the leads' (imports, pre-labels, exports); others are the admins'."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if not user.is_admin:
        within_project(
            session, project_id=job.project_id, user=user, need=Role.lead, missing=f"job {job_id} not found"
        )
    return job


def snapshot_for(session: Session, *, snapshot_id: int, user: User) -> Snapshot:
    """Snapshots are the leads' (who export) and the admins' (who train on them)."""
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(f"snapshot {snapshot_id} not found")
    within_project(
        session,
        project_id=snapshot.project_id,
        user=user,
        need=Role.lead,
        missing=f"snapshot {snapshot_id} not found",
    )
    return snapshot


def can_cancel(job: Job, user: User) -> Job:
    """Leads stop their project's imports, exports and pre-labels; a training run is the admins'."""
    if job.of_kind("training") and not user.is_admin:
        raise Forbidden("only administrators can stop a training run")
    return job


def readable_models(user: User) -> Select[TrainedModel]:
    """The models a user may see: all of them for admins, else those trained on a snapshot of a project
    the user leads."""
    stmt = select(TrainedModel)
    if not user.is_admin:
        led = select(Member.project_id).where(Member.user_id == user.id, Member.role == Role.lead.name)
        stmt = stmt.join(Snapshot, Snapshot.id == TrainedModel.snapshot_id).where(
            Snapshot.project_id.in_(led)
        )
    return stmt


def in_project(found: T | None, project: Project, *, missing: str) -> T:
    """`found` when it belongs to `project`; NotFound(missing) when it is absent or another project's, so a
    caller cannot tell the two apart. The one place that compares a thing's project with the caller's."""
    if found is None or _project_id_of(found) != project.id:
        raise NotFound(missing)
    return found


def own(found: T | None, user: User, *, missing: str) -> T:
    """`found` when it is the user's own (an annotation, a lease, a token); NotFound(missing) when it is
    absent or someone else's, so nobody learns that another's exists. The one place that compares a
    thing's owner with the caller."""
    if found is None or getattr(found, "user_id", None) != user.id:
        raise NotFound(missing)
    return found


def is_own(user_id: int | None, user: User) -> bool:
    """Whether a row's owner (read as a column, as the annotation loop's one-statement reads do) is the
    caller."""
    return user_id is not None and user_id == user.id


def get_in_project(session: Session, entity: type[T], ident: Any, project: Project, *, missing: str) -> T:
    """Load a row by primary key and check it belongs to the project (in_project)."""
    return in_project(session.get(entity, ident) if ident is not None else None, project, missing=missing)


def _project_id_of(found: Any) -> int | None:
    return getattr(found, "project_id", None)


def model_for(session: Session, *, model_id: int, user: User) -> TrainedModel:
    """A model is visible to admins and to the leads of the project whose snapshot trained it."""
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found")
    if user.is_admin:
        return model
    snapshot = session.get(Snapshot, model.snapshot_id) if model.snapshot_id else None
    within_project(
        session,
        project_id=snapshot.project_id if snapshot else None,
        user=user,
        need=Role.lead,
        missing=f"model {model_id} not found",
    )
    return model


def require_admin(user: User) -> User:
    if not user.is_admin:
        raise Forbidden("only administrators can do this")
    return user


def may_create_projects(session: Session, user: User) -> bool:
    """Admins always; everyone signed in once an admin turns on the instance setting (off by default)."""
    return user.is_admin or bool(instance.read(session, "non_admins_create_projects"))


def require_project_creator(session: Session, user: User) -> User:
    if not may_create_projects(session, user):
        raise Forbidden("only administrators can create projects on this instance")
    return user


# ── loop: the models a project's loop page offers, and checks that refuse with their own error ──


def models_to_score_with(user: User, project: Project) -> Select[TrainedModel]:
    """Models a user may pick to score a project's tasks: for an admin every model (one trained on another
    project can score this one), for its leads those trained on this project's snapshots."""
    stmt = readable_models(user)
    if user.is_admin:
        return stmt
    snapshots = select(Snapshot.id).where(Snapshot.project_id == project.id)
    return stmt.where(TrainedModel.snapshot_id.in_(snapshots))


def of_project(found: Any, project: Project) -> bool:
    """Whether `found` (a row, or None) belongs to the project: for a caller whose refusal is not a 404
    (a snapshot id in a form that names another project's snapshot)."""
    return found is not None and _project_id_of(found) == project.id


# ── comments: members of the project discuss its tasks; an annotation's thread stays blind ──


def _worked_on(session: Session, *, task_id: int, user_id: int) -> bool:
    leased = select(Assignment.id).where(Assignment.task_id == task_id, Assignment.user_id == user_id)
    answered = select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id == user_id)
    return session.scalar(leased.limit(1)) is not None or session.scalar(answered.limit(1)) is not None


def comment_role(session: Session, *, task: Task, user: User) -> Role:
    """The caller's role where a task's comments are read and written: reviewers and leads discuss every
    task of their project, an annotator those they were given or answered; anyone else gets a 404."""
    role = role_in(session, project_id=task.project_id, user=user)
    if role is None or (role < Role.reviewer and not _worked_on(session, task_id=task.id, user_id=user.id)):
        raise NotFound(f"task {task.id} not found")
    return role


def sees_annotation_thread(annotation_user_id: int | None, role: Role, user: User) -> bool:
    """An annotation's comments can reveal its choices: only its author, reviewers and leads read them
    (blind labeling: another annotator of the task never does)."""
    return role >= Role.reviewer or is_own(annotation_user_id, user)


def readable_comments(stmt: Select[Any], role: Role, user: User) -> Select[Any]:
    """`stmt` over Comment, narrowed to what the caller may read once comment_role let them in: task-level
    comments and the threads of annotations they may see."""
    if role >= Role.reviewer:
        return stmt
    mine = select(Annotation.id).where(Annotation.user_id == user.id)
    return stmt.where(or_(Comment.annotation_id.is_(None), Comment.annotation_id.in_(mine)))


def comment_for(session: Session, *, comment_id: int, user: User) -> tuple[Comment, Role]:
    """A comment the caller may read, with their role on its task; 404 for one they may not see."""
    missing = f"comment {comment_id} not found"
    comment = session.get(Comment, comment_id)
    task = session.get(Task, comment.task_id) if comment is not None else None
    if comment is None or task is None:
        raise NotFound(missing)
    try:
        role = comment_role(session, task=task, user=user)
    except NotFound:
        raise NotFound(missing) from None
    if comment.annotation_id is not None:
        owner = session.scalar(select(Annotation.user_id).where(Annotation.id == comment.annotation_id))
        if not sees_annotation_thread(owner, role, user):
            raise NotFound(missing)
    return comment, role


def may_read_comment(session: Session, *, comment: Comment, user: User) -> bool:
    """Whether someone (a person mentioned, a thread's author) may read the comment: nobody is notified
    of a comment they could not open."""
    try:
        comment_for(session, comment_id=comment.id, user=user)
    except NotFound:
        return False
    return True


def is_comment_author(comment: Comment, user: User) -> bool:
    return is_own(comment.author_id, user)


def may_resolve(comment: Comment, role: Role, user: User) -> bool:
    """A thread is resolved (or reopened) by its author, a reviewer or a lead."""
    return role >= Role.reviewer or is_comment_author(comment, user)


def require_comment_author(comment: Comment, user: User, *, doing: str) -> Comment:
    if not is_comment_author(comment, user):
        raise Forbidden(f"only a comment's author can {doing} it")
    return comment
