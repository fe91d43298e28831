"""A real Celery worker process on the Redis broker, sharing the test database: a plugin (see
tests/conftest.py), so every domain's tests can ask for `celery_worker` and `job_waiter`."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.cli import QUIET_WORKER, worker_command
from app.core.db import session_scope
from app.models import Job

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def celery_worker() -> Iterator[subprocess.Popen[bytes]]:
    log = open(Path(os.environ["PREFLAB_DATA_DIR"]) / "worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        worker_command("default", "--pool", "solo", *QUIET_WORKER),
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for_job(job_id: int, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.status in ("succeeded", "failed", "cancelled"):
                session.expunge(job)
                return job
        time.sleep(0.2)
    log = Path(os.environ["PREFLAB_DATA_DIR"]) / "worker.log"
    raise AssertionError(f"job {job_id} did not finish in {timeout}s; worker log:\n{log.read_text()[-3000:]}")


@pytest.fixture
def job_waiter() -> Callable[..., Job]:
    return wait_for_job
