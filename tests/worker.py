"""A real Celery worker process on the Redis broker, sharing the test database: a plugin (see
tests/conftest.py), so every domain's tests can ask for `celery_worker` and `job_waiter`."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from app.cli import QUIET_WORKER, worker_command
from app.core.db import session_scope
from app.models import Job

ROOT = Path(__file__).resolve().parents[1]


READY_TIMEOUT_S = 180.0  # a worker importing the app on a loaded two-core machine


def worker_process(queue: str, log_name: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process on one queue for as long as the generator lives, its output in the data dir. It is
    handed over once Celery says it is ready (consuming), so a test's first job does not wait for its
    start-up, and a worker that cannot start fails the test with its log rather than a timeout elsewhere."""
    path = Path(os.environ["PREFLAB_DATA_DIR"]) / log_name
    log = open(path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        worker_command(queue, "--pool", "solo", *QUIET_WORKER),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_ready(proc, path)
        yield proc
    finally:  # also when the generator is closed (contextlib.closing)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_until_ready(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            late = f"the worker was not ready in {READY_TIMEOUT_S:.0f} s"
            raise AssertionError(f"{late}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def celery_worker() -> Iterator[subprocess.Popen[bytes]]:
    """A worker for one test module: it must not outlive the module, or it would take the messages that
    later modules enqueue and then run themselves (their job ids are reused after each truncation). The
    broker's queues start empty for the same reason."""
    redis.Redis.from_url(os.environ["PREFLAB_BROKER_URL"]).flushdb()
    yield from worker_process("default", "worker.log")


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
