"""Projects and their members."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.core.errors import InvalidInput, NotFound
from app.jobs.runtime import create_job
from app.models import Job, Member, Project, ProjectCount, Role, Task, User, utcnow
from app.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate, validate_settings

# The queue order is a project setting; the loop (app/loop/scoring.py, apply_order) runs this job.
ORDER_TASK = "loop.order"


def create_project(session: Session, *, data: ProjectCreate, user: User) -> Project:
    project = Project(
        name=data.name.strip(),
        kind=data.kind,
        instructions=data.instructions,
        settings=data.settings,
        is_private=data.is_private,
        created_by_id=user.id,
    )
    session.add(project)
    session.flush()
    session.add(Member(project_id=project.id, user_id=user.id, role=Role.lead.name))
    record(session, "project.create", user_id=user.id, project_id=project.id, target=("project", project.id))
    return project


def update_project(session: Session, *, project: Project, data: ProjectUpdate, user: User) -> Project:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        project.name = changes["name"].strip()
    if changes.get("instructions") is not None:
        project.instructions = changes["instructions"]
    if changes.get("settings") is not None:
        merged = {**project.settings, **changes["settings"]}
        old_overlap = project.settings.get("overlap", 1)
        old_order = project.settings.get("queue_order", "priority")
        try:
            project.settings = validate_settings(
                project.kind, {k: v for k, v in merged.items() if k != "kind"}
            )
        except ValidationError as exc:
            raise InvalidInput(
                "settings are not valid: "
                + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            ) from None
        if project.settings["overlap"] != old_overlap:
            _reopen_or_complete(session, project)
        if project.settings.get("queue_order", "priority") != old_order:
            request_reorder(session, project, user=user)
    if changes.get("is_private") is not None:
        project.is_private = changes["is_private"]
    if changes.get("archived") is not None:
        archive_project(session, project=project, user=user, archived=changes["archived"])
    record(
        session,
        "project.update",
        user_id=user.id,
        project_id=project.id,
        target=("project", project.id),
        fields=sorted(changes),
    )
    return project


def request_reorder(session: Session, project: Project, *, user: User | None) -> Job:
    """Queue the job that rewrites the open tasks' priorities from the stored reward scores."""
    return create_job(
        session,
        kind="ordering",
        task_name=ORDER_TASK,
        params={"rule": project.settings.get("queue_order", "priority")},
        project_id=project.id,
        user_id=user.id if user else None,
    )


def _reopen_or_complete(session: Session, project: Project) -> None:
    """A changed overlap moves tasks between open and done: more annotations wanted reopens them."""
    overlap = int(project.settings["overlap"])
    session.execute(
        update(Task)
        .where(Task.project_id == project.id, Task.status.in_(("open", "done")))
        .values(status=case((Task.annotation_count >= overlap + Task.extra_overlap, "done"), else_="open"))
    )


def archive_project(session: Session, *, project: Project, user: User, archived: bool = True) -> None:
    project.archived_at = utcnow() if archived else None
    record(
        session,
        "project.archive" if archived else "project.unarchive",
        user_id=user.id,
        project_id=project.id,
        target=("project", project.id),
    )


def visible_projects(
    session: Session,
    *,
    user: User,
    include_archived: bool = False,
    cursor: int | None = None,
    limit: int = 50,
) -> list[tuple[Project, str | None]]:
    stmt = select(Project, Member.role).outerjoin(
        Member, (Member.project_id == Project.id) & (Member.user_id == user.id)
    )
    if not user.is_admin:
        stmt = stmt.where(Member.user_id.is_not(None))
    if not include_archived:
        stmt = stmt.where(Project.archived_at.is_(None))
    if cursor is not None:
        stmt = stmt.where(Project.id > cursor)
    rows = session.execute(stmt.order_by(Project.id).limit(limit)).all()
    return [(p, role if role else ("lead" if user.is_admin else None)) for p, role in rows]


def project_counts(session: Session, project_ids: list[int]) -> dict[int, dict[str, int]]:
    """Task, annotation and done counts for many projects: the sums of their kept counts (project_counts,
    app/models/figures.py), never a count over the tasks or the annotations."""
    counts: dict[int, dict[str, int]] = {
        pid: {"tasks": 0, "annotations": 0, "done": 0} for pid in project_ids
    }
    if not project_ids:
        return counts
    rows = session.execute(
        select(
            ProjectCount.project_id,
            func.sum(ProjectCount.tasks),
            func.sum(ProjectCount.done),
            func.sum(ProjectCount.annotations),
        )
        .where(ProjectCount.project_id.in_(project_ids))
        .group_by(ProjectCount.project_id)
    ).all()
    for pid, tasks, done, answers in rows:
        counts[pid] = {"tasks": int(tasks or 0), "annotations": int(answers or 0), "done": int(done or 0)}
    return counts


def to_read(project: Project, counts: dict[str, int], role: str | None = None) -> ProjectRead:
    tasks = counts["tasks"]
    return ProjectRead(
        id=project.id,
        name=project.name,
        kind=project.kind,
        instructions=project.instructions,
        settings=project.settings,
        is_private=project.is_private,
        archived=project.archived_at is not None,
        created_at=project.created_at,
        task_count=tasks,
        annotation_count=counts["annotations"],
        done_count=counts["done"],
        progress=(counts["done"] / tasks) if tasks else 0.0,
        my_role=role,
    )


def read_project(session: Session, project: Project, role: str | None = None) -> ProjectRead:
    return to_read(project, project_counts(session, [project.id])[project.id], role)


def list_members(session: Session, *, project: Project) -> list[tuple[Member, User]]:
    return [
        (m, u)
        for m, u in session.execute(
            select(Member, User)
            .join(User, User.id == Member.user_id)
            .where(Member.project_id == project.id)
            .order_by(User.email)
        ).all()
    ]


def set_member_answer(
    session: Session, *, project: Project, user_id: int, role: str, actor: User
) -> tuple[Member, User | None]:
    """Set the role and say who the member is, but only to a caller who already knew: an admin, or a lead
    changing the role of an existing member (a lead sees members in the list already)."""
    known = actor.is_admin or session.get(Member, (project.id, user_id)) is not None
    member = set_member(session, project=project, user_id=user_id, role=role, actor=actor)
    return member, session.get(User, user_id) if known else None


def set_member(session: Session, *, project: Project, user_id: int, role: str, actor: User) -> Member:
    if role not in Role.__members__:
        raise InvalidInput(f"role must be one of {', '.join(Role.__members__)}")
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    member = session.get(Member, (project.id, user_id))
    before = member.role if member else None
    if member is None:
        member = Member(project_id=project.id, user_id=user_id, role=role)
        session.add(member)
    else:
        member.role = role
    record(
        session,
        "member.set",
        user_id=actor.id,
        project_id=project.id,
        target=("user", user_id),
        **{"from": before, "to": role},
    )
    session.flush()
    return member


def remove_member(session: Session, *, project: Project, user_id: int, actor: User) -> None:
    member = session.get(Member, (project.id, user_id))
    if member is None:
        raise NotFound(f"user {user_id} is not a member of this project")
    if member.role == Role.lead.name:
        leads = session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.project_id == project.id, Member.role == Role.lead.name)
        )
        if (leads or 0) <= 1:
            raise InvalidInput("a project keeps at least one lead; make someone else lead first")
    session.delete(member)
    record(
        session,
        "member.remove",
        user_id=actor.id,
        project_id=project.id,
        target=("user", user_id),
        role=member.role,
    )


def count_tasks(
    session: Session, project: Project, *, task_ids: list[int] | None, open_only: bool, limit: int | None
) -> int:
    """How many tasks a job over `task_ids` (each must be the project's) or else over the project's (open)
    tasks, at most `limit`, will consider."""
    if task_ids is not None:
        wanted = set(task_ids)
        found = session.scalar(
            select(func.count()).select_from(Task).where(Task.project_id == project.id, Task.id.in_(wanted))
        )
        if found != len(wanted):
            raise InvalidInput(f"{len(wanted) - (found or 0)} of the task ids are not tasks of this project")
        return len(wanted)
    where = [Task.project_id == project.id] + ([Task.status == "open"] if open_only else [])
    total = int(session.scalar(select(func.count()).select_from(Task).where(*where)) or 0)
    return min(total, limit) if limit else total


def recent_jobs(session: Session, project: Project, *, limit: int = 5) -> list[Job]:
    return list(
        session.scalars(select(Job).where(Job.project_id == project.id).order_by(Job.id.desc()).limit(limit))
    )
