"""Training runs through a real Celery worker on queue "gpu" (Redis broker), real PostgreSQL (this folder
runs in the PostgreSQL pass), and the real trainer subprocess on a tiny model built here (no hub)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.db import session_scope
from app.exports.service import snapshots_root
from app.models import Role
from app.training.service import models_dir
from tests import factories
from tests.worker import wait_for_job, worker_process  # noqa: F401 - the shared job waiter

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def gpu_worker() -> Iterator[subprocess.Popen[bytes]]:
    yield from worker_process("gpu", "gpu-worker.log", HF_HUB_OFFLINE="1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlcore.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


WORDS = ["the cat reads a story", "a robot builds clear code", "my friend paints a map", "our team plans"]


@pytest.fixture
def lab(committed: None) -> Iterator[dict[str, int | str]]:
    """Admin, lead, and ready snapshots for every method (with test splits)."""
    with session_scope() as session:
        admin = factories.make_user(session, is_admin=True)
        lead = factories.make_user(session)
        annotator = factories.make_user(session)
        pairwise = factories.make_project(session, kind="pairwise", lead=lead)
        sft = factories.make_project(session, kind="sft", lead=lead)
        for project in (pairwise, sft):
            factories.add_member(session, project, annotator, Role.annotator)
        for i in range(16):
            prompt = f"Question {i}: {WORDS[i % 4]}?"
            good, bad = f"{WORDS[(i + 1) % 4]} well {i}", f"no {i}"
            task = factories.make_task(session, pairwise, prompt, [good, bad])
            factories.make_annotation(session, task, annotator, {"choice": "a", "strength": 1})
            demo = factories.make_task(session, sft, prompt, [{"id": "draft", "text": bad}])
            factories.make_annotation(session, demo, annotator, {"response": good})
        split = {"test": 0.25, "seed": 0}
        ids: dict[str, int | str] = {
            "preference": factories.make_snapshot(session, pairwise, lead, split=split).id,
            "kto": factories.make_snapshot(session, pairwise, lead, format="kto", split=split).id,
            "sft": factories.make_snapshot(
                session, sft, lead, format="sft", aggregation={"mode": "all"}, split=split
            ).id,
            "admin_token": factories.make_token(session, admin),
            "lead_token": factories.make_token(session, lead),
            "project": pairwise.id,
            "lead_email": lead.email,
        }
    yield ids
    shutil.rmtree(snapshots_root(), ignore_errors=True)
    shutil.rmtree(models_dir(), ignore_errors=True)
