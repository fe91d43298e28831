"""Starting a training run: everything is checked before anything is queued (DESIGN §4.7)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import audit
from app.core.config import get_settings
from app.core.errors import InvalidInput, NotFound
from app.jobs.runtime import create_job
from app.models import Job, Project, Snapshot, User
from app.training.schemas import FORMAT_FOR, TrainingRequest
from mlcore.config import LoraSettings, TrainConfig  # torch-free: the dataclass and its checks

TASK_NAME = "training.run"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def models_dir() -> Path:
    return get_settings().data_dir / "models"


def run_dir(job_id: int) -> Path:
    return get_settings().data_dir / "runs" / f"job-{job_id}"


def _check_base_model(request: TrainingRequest) -> None:
    name = request.base_model.strip()
    if request.base_model_on_worker or Path(name).expanduser().is_dir():
        return
    if HUB_ID.match(name) and not name.startswith((".", "/", "~")):
        return  # a hub id: the worker downloads it (nodes that can reach a hub) or fails saying so
    raise InvalidInput(
        f"base model {name!r} is not a directory here and not a hub id (owner/name); if the path exists "
        "on the GPU workers only, say so with base_model_on_worker",
        field="base_model",
    )


def build_config(request: TrainingRequest, snapshot: Snapshot, job_id: int) -> TrainConfig:
    """The trainer's config for this run; raises InvalidInput on a value out of range."""
    from app.exports.service import file_for

    test = "test" if "test" in snapshot.manifest.get("files", {}) else None
    directory = run_dir(job_id)
    local = Path(request.base_model).expanduser()
    config = TrainConfig(
        method=request.method,
        base_model=str(local) if local.is_dir() else request.base_model,
        train_file=str(file_for(snapshot, "train")),
        eval_file=str(file_for(snapshot, test)) if test else None,
        output_dir=str(models_dir() / f"job-{job_id}"),
        lora=LoraSettings(**request.lora.model_dump()) if request.lora else None,
        cancel_file=str(directory / "cancel"),
        events_file=str(directory / "events.jsonl"),
        **request.params.model_dump(),
    )
    try:
        config.validate()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return config


def start_training(session: Session, *, request: TrainingRequest, user: User) -> Job:
    snapshot = session.get(Snapshot, request.snapshot_id)
    if snapshot is None:
        raise NotFound(f"snapshot {request.snapshot_id} not found")
    if snapshot.status != "ready":
        raise InvalidInput(f"snapshot {snapshot.id} is {snapshot.status}, not ready", field="snapshot_id")
    wanted = FORMAT_FOR[request.method]
    if snapshot.format != wanted:
        raise InvalidInput(
            f"{request.method} trains on a {wanted} snapshot; "
            f"snapshot v{snapshot.version} is {snapshot.format}",
            field="snapshot_id",
        )
    if not snapshot.manifest.get("counts", {}).get("train"):
        raise InvalidInput(f"snapshot v{snapshot.version} has no training rows", field="snapshot_id")
    if snapshot.manifest.get("image_count"):
        raise InvalidInput(
            f"snapshot v{snapshot.version} holds images, and Preflab's trainers take text models only; "
            "download it (Download everything) and train a vision-language model with TRL on it",
            field="snapshot_id",
        )
    _check_base_model(request)
    build_config(request, snapshot, 0)  # every value checked now, not on the worker an hour later
    params: dict[str, Any] = request.model_dump(mode="json")
    job = create_job(
        session,
        kind="training",
        task_name=TASK_NAME,
        params=params,
        project_id=snapshot.project_id,
        user_id=user.id,
        queue="gpu",
    )
    audit.record(
        session,
        "training.start",
        user_id=user.id,
        project_id=snapshot.project_id,
        target=("job", job.id),
        snapshot_id=snapshot.id,
        method=request.method,
        base_model=request.base_model,
    )
    return job


def trainable_snapshots(session: Session, *, limit: int = 200) -> list[tuple[Snapshot, str]]:
    """Ready snapshots in a format some method trains on, newest first, with their project's name."""
    stmt = (
        select(Snapshot, Project.name)
        .join(Project, Project.id == Snapshot.project_id)
        .where(Snapshot.status == "ready", Snapshot.format.in_(set(FORMAT_FOR.values())))
        .order_by(Snapshot.id.desc())
        .limit(limit)
    )
    return [(snapshot, name) for snapshot, name in session.execute(stmt).all()]
