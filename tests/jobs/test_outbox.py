"""The jobs table as an outbox, with a real worker and Redis: a job created while the broker is down is
committed and answered, and sent once the broker is back; a message the broker lost is sent again; a
worker killed outright has its job run to the end by the next worker; what the sweep sends and when."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import queue
from app.core.config import get_settings
from app.core.db import session_scope
from app.exports import service
from app.imports.job import start_import_job
from app.jobs.outbox import send_is_due, sweep
from app.main import create_app
from app.models import Job, Role, Snapshot, Task, utcnow
from tests import factories
from tests.worker import worker_process


@pytest.fixture
def setup(committed: None) -> Iterator[tuple[int, str]]:
    with session_scope() as session:
        lead = factories.make_user(session)
        annotator = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        factories.add_member(session, project, annotator, Role.annotator)
        for i in range(20):
            task = factories.make_task(session, project, f"Prompt {i}", [f"good {i}", f"bad {i}"])
            factories.make_annotation(session, task, annotator, {"choice": "a", "strength": 2})
        ids = (project.id, factories.make_token(session, lead))
    yield ids
    shutil.rmtree(service.snapshots_root(), ignore_errors=True)


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """The web's broker connection points at a port nobody listens on, as when Redis is stopped; the
    fixture's value brings it back."""

    def point_at(url: str | None) -> None:
        if url is None:
            monkeypatch.undo()
        else:
            monkeypatch.setenv("PREFLAB_BROKER_URL", url)
        get_settings.cache_clear()
        queue.celery_client.cache_clear()

    point_at("redis://127.0.0.1:9/0")
    yield lambda: point_at(None)
    point_at(None)


@pytest.fixture
def broker() -> redis.Redis:
    """The test broker with empty queues, and no worker yet (each test starts its own)."""
    client = redis.Redis.from_url(os.environ["PREFLAB_BROKER_URL"])
    client.flushdb()
    return client


def _worker(**env: str) -> Iterator[subprocess.Popen[bytes]]:
    return worker_process("default", "worker.log", PREFLAB_JOB_SWEEP_INTERVAL_S="0.5", **env)


def _export(project_id: int, token: str) -> tuple[int, float]:
    with TestClient(create_app()) as client:
        started = time.monotonic()
        response = client.post(
            f"/api/v1/projects/{project_id}/snapshots",
            json={"format": "preference"},
            headers={"Authorization": f"Bearer {token}"},
        )
        took = time.monotonic() - started
    assert response.status_code == 202, response.text
    return int(response.json()["job_id"]), took


def _job(job_id: int) -> Job:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def _snapshots() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Snapshot)) or 0


def test_a_job_created_while_the_broker_is_down_is_answered_and_sent_once_it_is_back(
    setup: tuple[int, str],
    broker: redis.Redis,
    broker_down: Callable[[], None],
    job_waiter: Callable[..., Job],
) -> None:
    project_id, token = setup
    job_id, took = _export(project_id, token)
    assert took < 10  # the failed send neither hangs the request nor turns it into a 500
    job = _job(job_id)
    assert job.status == "queued" and job.dispatched_at is None  # noted as not sent
    broker_down()  # Redis is back; a worker's sweep sends the job at once
    with contextlib.closing(_worker()) as worker:
        next(worker)
        done = job_waiter(job_id)
    assert done.status == "succeeded", done.error
    assert _snapshots() == 1  # the client had its answer, so it did not retry: one version


def test_a_message_the_broker_lost_is_sent_again_after_its_grace(
    setup: tuple[int, str], broker: redis.Redis, job_waiter: Callable[..., Job]
) -> None:
    project_id, token = setup
    job_id, _ = _export(project_id, token)
    assert broker.llen("default") == 1
    broker.flushdb()  # the broker restarted without persistence before any worker took it
    assert sweep().sent == 0  # within its grace a job is not sent twice
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        job.dispatched_at = utcnow() - timedelta(seconds=get_settings().job_dispatch_grace_s + 1)
    assert sweep().sent == 1 and broker.llen("default") == 1
    with contextlib.closing(_worker()) as worker:
        next(worker)
        done = job_waiter(job_id)
    assert done.status == "succeeded" and done.dispatches == 2 and done.attempts == 1


def test_a_worker_killed_outright_has_its_job_run_to_the_end_by_the_next(
    committed: None, broker: redis.Redis, job_waiter: Callable[..., Job]
) -> None:
    rows = 20_000
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        path = get_settings().uploads_dir / "killed.upload"
        lines = (orjson.dumps({"prompt": f"p {i}", "responses": [f"a {i}", f"b {i}"]}) for i in range(rows))
        path.write_bytes(b"\n".join(lines))
        job_id = start_import_job(
            session, project=project, user=lead, path=path, filename="killed.jsonl", mapping=None
        ).id
        project_id = project.id
    quick = {"PREFLAB_JOB_HEARTBEAT_TIMEOUT_S": "3", "PREFLAB_IMPORT_BATCH_SIZE": "200"}
    with contextlib.closing(_worker(**quick)) as first:
        proc = next(first)
        deadline = time.monotonic() + 60
        while (job := _job(job_id)).progress <= 0.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.status == "running", job.status  # claimed, and writing its batches
        proc.kill()  # kill -9 mid-import
        proc.wait(timeout=10)
    assert _job(job_id).status == "running"  # what a dead worker leaves behind
    with contextlib.closing(_worker(**quick)) as second:
        next(second)
        done = job_waiter(job_id, timeout=120)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2 and "its worker stopped: no heartbeat" in done.log
    assert done.result["imported"] == rows
    with session_scope() as session:
        count = select(func.count()).select_from(Task).where(Task.project_id == project_id)
        assert session.scalar(count) == rows


def test_the_sweep_waits_longer_each_time_it_sends_a_job_nothing_claims(db: Session) -> None:
    project = factories.make_project(db, lead=factories.make_user(db))
    job = factories.make_job(db, project, None, kind="export")
    grace = get_settings().job_dispatch_grace_s
    now = utcnow()
    job.dispatched_at = now - timedelta(seconds=grace - 1)
    assert not send_is_due(job, now)
    job.dispatched_at = now - timedelta(seconds=grace + 1)
    assert send_is_due(job, now)
    job.dispatches = 3  # sent three times: the next send waits four graces
    job.dispatched_at = now - timedelta(seconds=4 * grace - 1)
    assert not send_is_due(job, now)
    job.dispatched_at = now - timedelta(seconds=4 * grace + 1)
    assert send_is_due(job, now)
    job.dispatched_at = None  # its send failed
    assert send_is_due(job, now)
