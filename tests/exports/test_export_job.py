"""Exports run as a Job in a real Celery worker (Redis broker): snapshot, manifest, streamed download."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import session_scope
from app.exports import job as job_module
from app.exports import reading, service
from app.exports.job import run_export_job
from app.exports.schemas import ExportRequest
from app.exports.service import create_snapshot, snapshot_dir
from app.jobs.runtime import request_cancel
from app.main import create_app
from app.models import AuditEvent, Job, Project, Role, Snapshot, utcnow
from tests import factories


@pytest.fixture
def setup(committed: None) -> Iterator[tuple[int, str]]:
    with session_scope() as session:
        lead = factories.make_user(session)
        annotator = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        factories.add_member(session, project, annotator, Role.annotator)
        for i in range(40):
            task = factories.make_task(session, project, f"Prompt {i}", [f"good {i}", f"bad {i}"])
            factories.make_annotation(session, task, annotator, {"choice": "a", "strength": 2})
        ids = (project.id, factories.make_token(session, lead))
    yield ids
    shutil.rmtree(service.snapshots_root(), ignore_errors=True)  # ids start again at 1 in the next test


def _unqueued(project_id: int, request: ExportRequest) -> tuple[int, int]:
    """A snapshot and its job, run here rather than by the worker."""
    with session_scope() as session:
        project = session.get_one(Project, project_id)
        snapshot = create_snapshot(session, project=project, user=None, request=request, queue=False)
        job = factories.make_job(session, project, None, kind="export")
        job.params = {"snapshot_id": snapshot.id}
        snapshot.job_id = job.id
        return job.id, snapshot.id


def test_redelivery_never_rewrites_a_finished_snapshot(setup: tuple[int, str]) -> None:
    project_id, _ = setup
    job_id, snapshot_id = _unqueued(project_id, ExportRequest(format="kto"))
    # a crashed attempt leaves a temporary directory behind; the next attempt clears it
    stale = snapshot_dir(project_id, 1).parent / ".v1.tmp-dead"
    stale.mkdir(parents=True)
    assert run_export_job(job_id) == "succeeded"
    assert not stale.exists()
    first = (snapshot_dir(project_id, 1) / "train.jsonl").stat().st_mtime_ns
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        job.status = "running"  # as if its worker died after writing and the message came again
        job.heartbeat_at = utcnow() - timedelta(hours=1)  # once the lease lapsed
    assert run_export_job(job_id) == "succeeded"
    assert (snapshot_dir(project_id, 1) / "train.jsonl").stat().st_mtime_ns == first
    with session_scope() as session:
        assert session.get_one(Snapshot, snapshot_id).status == "ready"


def test_cancel_before_start_settles_the_snapshot(setup: tuple[int, str]) -> None:
    project_id, _ = setup
    job_id, snapshot_id = _unqueued(project_id, ExportRequest(format="preference"))
    with session_scope() as session:
        request_cancel(session, session.get_one(Job, job_id))  # still queued: cancelled at once
    assert run_export_job(job_id) == "skipped"  # the message arrives later and finds nothing to do
    with session_scope() as session:
        assert session.get_one(Snapshot, snapshot_id).status == "cancelled"


def test_cancel_while_running_keeps_no_files(setup: tuple[int, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project_id, _ = setup
    monkeypatch.setattr(reading, "TASK_BATCH", 1)  # 40 batches, each reporting progress
    monkeypatch.setattr(job_module, "PROGRESS_EVERY_S", 0)
    job_id, snapshot_id = _unqueued(project_id, ExportRequest(format="preference"))
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(run_export_job(job_id)))
    runner.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope() as session:
            job = session.get_one(Job, job_id)
            if job.status == "running":
                request_cancel(session, job)
                break
        time.sleep(0.001)
    runner.join(30)
    assert outcome == ["cancelled"]
    with session_scope() as session:
        assert session.get_one(Snapshot, snapshot_id).status == "cancelled"
    assert not snapshot_dir(project_id, 1).exists()
    assert not list(snapshot_dir(project_id, 1).parent.glob(".v1.tmp-*"))


# The module's worker starts with the first test that asks for it and sweeps the jobs (app/jobs/outbox.py):
# the tests above run jobs here themselves, so they come first, before a worker could take their jobs.
def test_export_through_the_worker_and_download(
    setup: tuple[int, str], celery_worker: object, job_waiter: Callable[..., Job]
) -> None:
    project_id, token = setup
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app()) as client:
        response = client.post(
            f"/api/v1/projects/{project_id}/snapshots",
            json={"format": "preference", "split": {"test": 0.25, "seed": 1}},
            headers=auth,
        )
        assert response.status_code == 202, response.text
        created = response.json()
        assert created["version"] == 1
        job = job_waiter(created["job_id"])
        assert job.status == "succeeded", job.error
        assert job.progress == 1.0 and job.result["counts"]["train"] + job.result["counts"]["test"] == 40

        snapshot = client.get(f"/api/v1/snapshots/{created['snapshot_id']}", headers=auth).json()
        assert snapshot["status"] == "ready" and snapshot["version"] == 1
        manifest = snapshot["manifest"]
        assert manifest["split"]["test"] == 0.25 and manifest["format"] == "preference"
        seen_prompts: list[set[str]] = []
        for split in ("train", "test"):
            download = client.get(
                f"/api/v1/snapshots/{created['snapshot_id']}/download?split={split}", headers=auth
            )
            assert download.status_code == 200
            assert f"project-{project_id}-v1-{split}.jsonl" in download.headers["content-disposition"]
            lines = [json.loads(line) for line in download.text.splitlines()]
            assert len(lines) == manifest["counts"][split] > 0
            assert all(r["chosen"].startswith("good") for r in lines)
            seen_prompts.append({r["prompt"] for r in lines})
        assert seen_prompts[0].isdisjoint(seen_prompts[1])
        missing = client.get(
            f"/api/v1/snapshots/{created['snapshot_id']}/download?split=validation", headers=auth
        )
        assert missing.status_code == 404 and "no validation file" in missing.json()["detail"]

        listed = client.get(f"/api/v1/projects/{project_id}/snapshots", headers=auth).json()
        assert [s["version"] for s in listed["items"]] == [1]
        bad = client.post(
            f"/api/v1/projects/{project_id}/snapshots", json={"format": "classification"}, headers=auth
        )
        assert bad.status_code == 422 and "exports as preference, kto, sft, raw" in bad.text

        assert client.delete(f"/api/v1/snapshots/{created['snapshot_id']}", headers=auth).status_code == 204
        gone = client.get(f"/api/v1/snapshots/{created['snapshot_id']}/download", headers=auth)
        assert gone.status_code == 404
    assert not snapshot_dir(project_id, 1).exists()
    with session_scope() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.project_id == project_id)).all()
        assert {"snapshot.create", "snapshot.delete"} <= set(actions)
