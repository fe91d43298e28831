"""Large uploads run as a Job in a real Celery worker (Redis broker), all or nothing, resumable."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core import queue
from app.core.config import get_settings
from app.core.db import session_scope
from app.imports import job as job_module
from app.imports.job import run_import_job, start_import_job
from app.jobs.outbox import sweep
from app.main import create_app
from app.models import Job, Project, Task, User, utcnow
from tests import factories


def _big_jsonl(n: int, *, bad_line: int | None = None) -> bytes:
    lines = [
        json.dumps(
            {
                "external_id": f"big-{i}",
                "prompt": "Explain " + "x" * 200 + str(i),
                "responses": [{"text": "A" * 300, "model": "m1"}, {"text": "B" * 300, "model": "m2"}],
            }
        )
        for i in range(n)
    ]
    if bad_line is not None:
        lines[bad_line - 1] = '{"prompt": 12}'
    return "\n".join(lines).encode()


@pytest.fixture
def setup(committed: None) -> Iterator[tuple[int, int, str]]:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        token = factories.make_token(session, lead)
        ids = (project.id, lead.id, token)
    yield ids


def _count(project_id: int, *, status: str | None = None) -> int:
    where = [Task.project_id == project_id] + ([Task.status == status] if status else [])
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Task).where(*where)) or 0


def _job_for(project_id: int, lead_id: int, rows: int, name: str) -> int:
    path = get_settings().uploads_dir / name
    path.write_bytes(_big_jsonl(rows))
    with session_scope() as session:
        job = start_import_job(
            session,
            project=session.get_one(Project, project_id),
            user=session.get_one(User, lead_id),
            path=path,
            filename="big.jsonl",
            mapping=None,
        )
        session.info.clear()  # run it here rather than through the broker
        return job.id


def _interrupt_on(monkeypatch: pytest.MonkeyPatch, call: int, action: Callable[[int], None]) -> None:
    """Run `action(job_id)` at the n-th progress/cancel check of the import (there is one per batch)."""
    calls = {"n": 0}

    import_rows = job_module.import_rows

    def interrupted(*args: Any, on_batch: Callable[[Any], None], **kwargs: Any) -> Any:
        def hook(result: Any) -> None:
            on_batch(result)  # the batch commits first where the backend commits per batch
            calls["n"] += 1
            if calls["n"] == call:
                action(kwargs["job_id"])

        return import_rows(*args, on_batch=hook, **kwargs)

    monkeypatch.setattr(job_module, "import_rows", interrupted)


def test_a_worker_dying_mid_import_leaves_nothing_and_the_retry_imports_once(
    setup: tuple[int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id, _ = setup
    job_id = _job_for(project_id, lead_id, 5000, "crash-test.upload")

    def die(_: int) -> None:
        raise SystemExit("worker killed")  # what a dying process looks like from inside

    _interrupt_on(monkeypatch, 2, die)
    with pytest.raises(SystemExit):
        run_import_job(job_id)
    # PostgreSQL: the batches written never committed; SQLite: they did, unseen, and the retry removes them
    assert _count(project_id) in (0, 2 * get_settings().import_batch_size)
    assert _count(project_id, status="open") == 0  # nothing of a failed attempt is handed out
    monkeypatch.undo()
    assert run_import_job(job_id) == "skipped"  # a copy of its message while the lease still holds
    with session_scope() as session:  # the lease lapses (no heartbeat): the sweep sends it again
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
    # This test is the worker that receives the send: the module's worker process must not take it first.
    sent: list[tuple[str, list[Any], str]] = []
    monkeypatch.setattr(queue, "send_task", lambda name, args, q: sent.append((name, args, q)))
    assert sweep().restarted == 1
    assert [args for _, args, _ in sent] == [[job_id]]
    monkeypatch.undo()
    assert run_import_job(job_id) == "succeeded"  # the redelivery
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        assert job.result["imported"] == 5000 and job.result["duplicates"] == 0 and job.attempts == 2
    assert _count(project_id) == 5000 == _count(project_id, status="open")
    assert run_import_job(job_id) == "skipped"  # a further delivery of the same message does nothing


def test_cancelling_an_import_leaves_nothing_half_imported(
    setup: tuple[int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id, _ = setup
    job_id = _job_for(project_id, lead_id, 5000, "cancel-test.upload")

    def cancel(job_id_: int) -> None:
        with session_scope() as s:  # what POST /api/v1/jobs/{id}/cancel does, from another connection
            s.get_one(Job, job_id_).cancel_requested = True

    _interrupt_on(monkeypatch, 2, cancel)
    assert run_import_job(job_id) == "cancelled"
    assert _count(project_id) == 0
    with session_scope() as session:
        assert session.get_one(Job, job_id).status == "cancelled"


def test_an_unexpected_error_fails_the_job_cleanly(
    setup: tuple[int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id, _ = setup
    job_id = _job_for(project_id, lead_id, 5000, "error-test.upload")

    def lose_the_database(job_id_: int) -> None:
        raise RuntimeError("connection lost")

    _interrupt_on(monkeypatch, 2, lose_the_database)
    assert run_import_job(job_id) == "failed"
    assert _count(project_id) == 0
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and "connection lost" in (job.error or "")
    assert not (get_settings().uploads_dir / "error-test.upload").exists()


# The module's worker starts with the first test that asks for it and sweeps the jobs (app/jobs/outbox.py):
# the tests above run jobs here themselves, so they come first, before a worker could take their jobs.
def test_large_upload_runs_as_a_job_with_progress(
    setup: tuple[int, int, str], celery_worker: object, job_waiter: Callable[..., Job]
) -> None:
    project_id, _, token = setup
    data = _big_jsonl(1500)
    assert len(data) > get_settings().import_inline_max_bytes
    with TestClient(create_app()) as client:
        r = client.post(
            f"/api/v1/projects/{project_id}/imports",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("big.jsonl", data)},
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        job = job_waiter(job_id)
        assert job.status == "succeeded", job.error
        api = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()
        assert api["status"] == "succeeded" and api["progress"] == 1.0
        assert api["result"]["imported"] == 1500 and api["result"]["duplicates"] == 0
        assert _count(project_id) == 1500
        # the same file again: every row a duplicate, nothing written twice
        r = client.post(
            f"/api/v1/projects/{project_id}/imports",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("big.jsonl", data)},
        )
        again = job_waiter(r.json()["job_id"])
        assert again.result["imported"] == 0 and again.result["duplicates"] == 1500
    assert _count(project_id) == 1500


def test_a_bad_row_fails_the_job_and_imports_nothing(
    setup: tuple[int, int, str], celery_worker: object, job_waiter: Callable[..., Job]
) -> None:
    project_id, _, token = setup
    with TestClient(create_app()) as client:
        r = client.post(
            f"/api/v1/projects/{project_id}/imports",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("big.jsonl", _big_jsonl(1500, bad_line=1234))},
        )
        assert r.status_code == 202
        job = job_waiter(r.json()["job_id"])
    assert job.status == "failed"
    assert [e["line"] for e in job.result["errors"]] == [1234]
    assert "nothing was imported" in (job.error or "")
    assert _count(project_id) == 0
