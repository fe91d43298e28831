"""Who may do what (DESIGN §3). Every route goes through these; nothing else decides access."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.errors import Forbidden, NotFound
from app.models import Job, Member, Project, Role, Snapshot, Task, TrainedModel, User

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
