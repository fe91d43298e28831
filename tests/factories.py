"""Factories for test data. Users share one precomputed password hash: Argon2 is slow on purpose."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from app.core.security import hash_password
from app.imports.service import TaskWriter
from app.imports.shapes import normalize_row
from app.models import (
    Annotation,
    ApiToken,
    Assignment,
    Credential,
    Job,
    Member,
    Project,
    Role,
    Task,
    TaskFlag,
    User,
    utcnow,
)
from app.projects.schemas import validate_settings

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


@lru_cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def make_user(session: Session, *, email: str | None = None, is_admin: bool = False, name: str = "") -> User:
    n = next(_seq)
    user = User(
        email=email or f"user{n}@example.test",
        name=name or f"User {n}",
        password_hash=_password_hash(),
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def make_token(session: Session, user: User) -> str:
    from app.auth.service import create_token

    _, raw = create_token(session, user=user, name="test")
    return raw


def make_project(
    session: Session,
    *,
    kind: str = "pairwise",
    lead: User | None = None,
    settings: dict[str, Any] | None = None,
    name: str | None = None,
) -> Project:
    project = Project(
        name=name or f"Project {next(_seq)}",
        kind=str(kind),
        settings=validate_settings(kind, settings or {}),
        instructions="Judge **carefully**.",
    )
    session.add(project)
    session.flush()
    if lead is not None:
        add_member(session, project, lead, Role.lead)
    return project


def add_member(session: Session, project: Project, user: User, role: Role) -> Member:
    member = Member(project_id=project.id, user_id=user.id, role=role.name)
    session.add(member)
    session.flush()
    return member


def make_tasks(session: Session, project: Project, n: int = 3) -> list[Task]:
    rows = [
        normalize_row(
            {
                "external_id": f"t-{project.id}-{i}",
                "prompt": f"Question {i}?",
                "responses": [f"Answer A{i}", f"Answer B{i}"],
            }
        )
        for i in range(n)
    ]
    TaskWriter(session, project_id=project.id).write(rows)
    from sqlalchemy import select

    return list(session.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))


# What the domains send each kind of job as (their TASK_NAME constants), for jobs made here directly.
JOB_TASKS = {
    "import": ("import.tasks", "default"),
    "export": ("export.snapshot", "default"),
    "prelabel": ("prelabel.run", "default"),
    "training": ("training.run", "gpu"),
    "scoring": ("loop.score", "gpu"),
    "ordering": ("loop.order", "default"),
    "stats": ("quality.stats", "default"),
}


def make_job(session: Session, project: Project | None, user: User | None, kind: str = "import") -> Job:
    task_name, queue = JOB_TASKS[kind]
    job = Job(
        kind=kind,
        project_id=project.id if project else None,
        created_by_id=user.id if user else None,
        status="queued",
        params={},
        task_name=task_name,
        queue=queue,
        dispatched_at=utcnow(),
        dispatches=1,
    )
    session.add(job)
    session.flush()
    return job


def make_credential(
    session: Session, *, name: str | None = None, env_var: str = "TEST_LLM_API_KEY", hosts: str = "127.0.0.1"
) -> Credential:
    """A credential row as an administrator's form would leave it (hosts comma-separated)."""
    credential = Credential(name=name or f"cred-{next(_seq)}", env_var=env_var, hosts=hosts, description="")
    session.add(credential)
    session.flush()
    return credential


def make_lease(session: Session, task: Task, user: User, *, minutes: int = 10) -> Assignment:
    now = utcnow()
    lease = Assignment(
        task_id=task.id,
        project_id=task.project_id,
        user_id=user.id,
        status="active",
        order=[r["id"] for r in task.responses],
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(lease)
    task.reserved += 1
    session.flush()
    return lease


def make_annotation(
    session: Session, task: Task, user: User, result: dict[str, Any] | None = None
) -> Annotation:
    """A submitted answer, with its (still live) lease, as the annotate page leaves it."""
    now = utcnow()
    lease = Assignment(
        task_id=task.id,
        project_id=task.project_id,
        user_id=user.id,
        status="submitted",
        order=[r["id"] for r in task.responses],
        expires_at=now + timedelta(minutes=10),
        completed_at=now,
    )
    session.add(lease)
    session.flush()
    annotation = Annotation(
        uuid=str(uuid.uuid4()),
        task_id=task.id,
        project_id=task.project_id,
        user_id=user.id,
        assignment_id=lease.id,
        result=result or {"choice": task.responses[0]["id"], "strength": 1},
    )
    session.add(annotation)
    task.annotation_count += 1
    session.flush()
    return annotation


def make_flag(session: Session, task: Task, user: User, reason: str = "unclear") -> TaskFlag:
    flag = TaskFlag(task_id=task.id, project_id=task.project_id, user_id=user.id, reason=reason, comment="hm")
    session.add(flag)
    session.flush()
    return flag


__all__ = [
    "PASSWORD",
    "ApiToken",
    "add_member",
    "make_job",
    "make_project",
    "make_tasks",
    "make_token",
    "make_user",
]


def make_review(
    session: Session,
    annotation: Annotation,
    reviewer: User,
    verdict: str,
    result: dict[str, Any] | None = None,
) -> Any:
    """A reviewer's verdict, and the annotation status it leaves (accepted, rejected or corrected)."""
    from app.models import Review

    review = Review(annotation_id=annotation.id, reviewer_id=reviewer.id, verdict=verdict, result=result)
    session.add(review)
    annotation.status = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}[verdict]
    session.flush()
    return review


def make_task(session: Session, project: Project, prompt: Any, responses: list[Any], **extra: Any) -> Task:
    (row,) = [normalize_row({"prompt": prompt, "responses": responses, **extra})]
    TaskWriter(session, project_id=project.id).write([row])
    from sqlalchemy import select

    return session.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id.desc())).first()  # type: ignore[return-value]


def make_snapshot(session: Session, project: Project, user: User | None, **request: Any) -> Any:
    """A ready snapshot, written by the real export into the data dir."""
    from app.exports import service
    from app.exports.schemas import ExportRequest

    req = ExportRequest.model_validate({"format": "preference", "split": {"test": 0}, **request})
    snapshot = service.create_snapshot(session, project=project, user=user, request=req, queue=False)
    snapshot.manifest = service.export_snapshot(session.connection(), snapshot, project, created_by=None)
    snapshot.status = "ready"
    session.flush()
    return snapshot


def make_model(session: Session, snapshot: Any, **extra: Any) -> Any:
    from app.models import TrainedModel

    values: dict[str, Any] = {
        "name": "m",
        "snapshot_id": snapshot.id if snapshot is not None else None,
        "base_model": "base",
        "method": "reward",
        "path": "/tmp/m",
        "metrics": {},
        **extra,
    }
    model = TrainedModel(**values)
    session.add(model)
    session.flush()
    return model


def make_suggestion(
    session: Session, task: Task, kind: str = "judge", result: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """A pre-label suggestion for a task (judge by default: the first response is better)."""
    from app.models import Suggestion

    default = {
        "choice": task.responses[0]["id"] if task.responses else "tie",
        "rationale": "clearer",
        "orders_agree": True,
        "confidence": 0.9,
    }
    suggestion = Suggestion(
        task_id=task.id,
        kind=kind,
        result=result if result is not None else default,
        model="stub",
        prompt_version=1,
        **extra,
    )
    session.add(suggestion)
    session.flush()
    return suggestion


def model_dir() -> Any:
    """A directory that exists, for models whose files a route checks but never loads."""
    import os
    from pathlib import Path

    path = Path(os.environ["PREFLAB_DATA_DIR"]) / "models" / "factory-model"
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_round(session: Session, project: Project, number: int = 1, **extra: Any) -> Any:
    from app.models import Round, utcnow

    values: dict[str, Any] = {"started_at": utcnow() - timedelta(hours=1), "name": f"Round {number}", **extra}
    created = Round(project_id=project.id, number=number, metrics={}, **values)
    session.add(created)
    session.flush()
    return created


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (48, 32), color: tuple[int, int, int] = (200, 60, 30)
) -> bytes:
    """A real image file made with Pillow (PNG, JPEG, WEBP, GIF), for imports and pages that show one."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def make_image(session: Session, project: Project, data: bytes | None = None) -> dict[str, Any]:
    """An image stored and linked to the project, as an import leaves it; returns its ref."""
    from app.media.images import check_image, link, store

    checked = check_image(data or image_bytes())
    store(checked)
    link(session, project.id, [checked.ref()])
    return checked.ref()


def pixel_bomb(side: int = 50_000) -> bytes:
    """A PNG of a few hundred bytes whose header claims side x side pixels (gigabytes, decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
