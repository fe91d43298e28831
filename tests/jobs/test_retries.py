"""Job tasks retry transient errors and nothing else, through the real Celery tasks (applied eagerly: the
retry runs at once instead of after its delay), and a retried job's effects are there exactly once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.core.config import get_settings
from app.core.db import session_scope
from app.exports import job as export_module
from app.exports import reading as export_reading
from app.exports import service as export_service
from app.exports.schemas import ExportRequest
from app.imports import job as import_module
from app.jobs import runtime
from app.jobs.runtime import RETRY
from app.loop import job as loop_module
from app.models import Job, Project, Role, Snapshot, Task, User
from tests import factories
from workers.celery_app import celery
from workers.job_task import JobTask
from workers.tasks.exports import export_snapshot
from workers.tasks.imports import import_tasks
from workers.tasks.loop import order

pytestmark = pytest.mark.usefixtures("committed")

ROWS = 5000  # three batches of import_batch_size


def connection_lost() -> OperationalError:
    return OperationalError(
        "INSERT INTO tasks ...", {}, Exception("server closed the connection unexpectedly")
    )


@pytest.fixture
def people() -> Iterator[tuple[int, int]]:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        ids = (project.id, lead.id)
    yield ids
    shutil.rmtree(export_service.snapshots_root(), ignore_errors=True)


def import_job(
    project_id: int, lead_id: int, name: str, *, rows: int = ROWS, bad_line: int | None = None
) -> int:
    lines = [
        json.dumps({"external_id": f"row-{i}", "prompt": f"Explain {i}", "responses": ["A", "B"]})
        for i in range(rows)
    ]
    if bad_line is not None:
        lines[bad_line - 1] = '{"prompt": 12}'
    path = get_settings().uploads_dir / name
    path.write_text("\n".join(lines))
    with session_scope() as session:
        job = import_module.start_import_job(
            session,
            project=session.get_one(Project, project_id),
            user=session.get_one(User, lead_id),
            path=path,
            filename="rows.jsonl",
            mapping=None,
        )
        session.info.clear()  # applied here, not sent to the broker
        return job.id


def interrupt_first_attempt(
    monkeypatch: pytest.MonkeyPatch, at_batch: int, action: Callable[[int], None]
) -> list[int]:
    """Run `action(job_id)` after the n-th batch of the first attempt only; returns the rows each attempt
    wrote."""
    import_rows = import_module.import_rows
    attempts: list[int] = []

    def interrupted(*args: Any, on_batch: Callable[[Any], None], **kwargs: Any) -> Any:
        attempts.append(0)
        first, batches = len(attempts) == 1, [0]

        def hook(result: Any) -> None:
            on_batch(result)  # SQLite commits the batch here: partial work that the retry must not double
            attempts[-1], batches[0] = result.imported, batches[0] + 1
            if first and batches[0] == at_batch:
                action(kwargs["job_id"])

        return import_rows(*args, on_batch=hook, **kwargs)

    monkeypatch.setattr(import_module, "import_rows", interrupted)
    return attempts


def tasks_of(project_id: int) -> int:
    with session_scope() as session:
        return int(
            session.scalar(select(func.count()).select_from(Task).where(Task.project_id == project_id)) or 0
        )


def job_row(job_id: int) -> Job:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def test_every_job_task_declares_the_retry_policy() -> None:
    celery.loader.import_default_modules()  # what a worker loads: every module of `include`
    job_tasks = {name: task for name, task in celery.tasks.items() if not name.startswith("celery.")}
    assert set(job_tasks) >= {"import.tasks", "export.snapshot", "prelabel.run", "training.run", "loop.score"}
    for name, task in job_tasks.items():
        assert isinstance(task, JobTask), name
        assert task.autoretry_for == RETRY.errors and task.max_retries == RETRY.max_retries, name
        assert task.retry_backoff == RETRY.backoff_s and task.retry_jitter, name


def test_an_import_that_loses_the_database_midway_is_retried_and_imports_every_row_once(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id = people
    job_id = import_job(project_id, lead_id, "transient.upload")

    def lose_the_database(_: int) -> None:
        raise connection_lost()

    attempts = interrupt_first_attempt(monkeypatch, 2, lose_the_database)
    assert import_tasks.apply(args=[job_id]).get() == "succeeded"
    assert attempts == [2 * get_settings().import_batch_size, ROWS]  # partial work, then all of it
    job = job_row(job_id)
    assert job.status == "succeeded" and job.attempts == 2 and job.error is None
    assert job.result["imported"] == ROWS and job.result["duplicates"] == 0
    assert "stopped on a transient error, to be retried" in job.log
    assert tasks_of(project_id) == ROWS
    with session_scope() as session:
        ids = session.scalars(select(Task.external_id).where(Task.project_id == project_id)).all()
    assert len(set(ids)) == ROWS


def test_an_export_that_loses_the_database_midway_is_retried_and_writes_its_files_once(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, _ = people
    with session_scope() as session:
        project = session.get_one(Project, project_id)
        annotator = factories.make_user(session)
        factories.add_member(session, project, annotator, Role.annotator)
        for i in range(30):
            task = factories.make_task(session, project, f"Prompt {i}", [f"good {i}", f"bad {i}"])
            factories.make_annotation(session, task, annotator, {"choice": "a", "strength": 2})
        snapshot = export_service.create_snapshot(
            session, project=project, user=None, request=ExportRequest(format="preference"), queue=False
        )
        job = factories.make_job(session, project, None, kind="export")
        job.params = {"snapshot_id": snapshot.id}
        snapshot.job_id = job.id
        job_id, snapshot_id, version = job.id, snapshot.id, snapshot.version
    monkeypatch.setattr(export_reading, "TASK_BATCH", 1)  # one progress report a task
    monkeypatch.setattr(export_module, "PROGRESS_EVERY_S", 0)
    export = export_module.export_snapshot
    calls: list[int] = []

    def failing_once(*args: Any, on_progress: Callable[[Any], None], **kwargs: Any) -> Any:
        calls.append(0)

        def hook(p: Any) -> None:
            on_progress(p)
            calls[-1] = p.done
            if len(calls) == 1 and p.done == 12:  # twelve tasks' rows are in the temporary files
                raise connection_lost()

        return export(*args, on_progress=hook, **kwargs)

    monkeypatch.setattr(export_module, "export_snapshot", failing_once)
    assert export_snapshot.apply(args=[job_id]).get() == "succeeded"
    assert calls == [12, 30]
    job = job_row(job_id)
    assert job.status == "succeeded" and job.attempts == 2
    directory = export_service.snapshot_dir(project_id, version)
    with session_scope() as session:
        snapshot = session.get_one(Snapshot, snapshot_id)
        assert snapshot.status == "ready"
        manifest = snapshot.manifest
    assert sum(manifest["counts"].values()) == 30
    lines = [json.loads(line) for path in directory.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(lines) == 30 and len({r["prompt"] for r in lines}) == 30  # every task's row, once
    assert not list(directory.parent.glob(".v*.tmp-*"))  # the first attempt's files are gone


def test_a_non_transient_error_fails_the_job_without_a_retry(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id = people
    job_id = import_job(project_id, lead_id, "broken.upload")

    def break_the_code(_: int) -> None:
        raise RuntimeError("a bug in the runner")

    attempts = interrupt_first_attempt(monkeypatch, 2, break_the_code)
    assert import_tasks.apply(args=[job_id]).get() == "failed"
    assert len(attempts) == 1
    job = job_row(job_id)
    assert job.status == "failed" and job.attempts == 1 and "a bug in the runner" in (job.error or "")
    assert tasks_of(project_id) == 0


def test_bad_input_fails_the_job_at_once(people: tuple[int, int]) -> None:
    project_id, lead_id = people
    job_id = import_job(project_id, lead_id, "bad.upload", rows=50, bad_line=7)
    assert import_tasks.apply(args=[job_id]).get() == "failed"
    job = job_row(job_id)
    assert job.status == "failed" and job.attempts == 1
    assert [e["line"] for e in job.result["errors"]] == [7]
    assert tasks_of(project_id) == 0


def test_a_job_that_keeps_hitting_transient_errors_fails_readably_when_its_attempts_are_spent(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, _ = people
    with session_scope() as session:
        job_id = factories.make_job(session, session.get_one(Project, project_id), None, kind="ordering").id
    runs: list[int] = []

    def always_down(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        raise connection_lost()

    monkeypatch.setattr(loop_module, "apply_order", always_down)
    assert order.apply(args=[job_id]).get() == "failed"
    assert len(runs) == RETRY.max_retries + 1
    job = job_row(job_id)
    assert job.status == "failed" and job.attempts == RETRY.max_retries + 1
    assert "server closed the connection" in (job.error or "") and "gave up after 6 attempts" in (
        job.error or ""
    )


def test_a_task_that_cannot_even_claim_its_job_fails_it_once_the_retries_are_spent(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, _ = people
    with session_scope() as session:
        job_id = factories.make_job(session, session.get_one(Project, project_id), None, kind="ordering").id
    claims: list[int] = []

    def unreachable(*args: Any) -> Any:
        claims.append(1)
        raise connection_lost()

    monkeypatch.setattr(runtime, "_claim", unreachable)
    result = order.apply(args=[job_id])
    assert result.failed() and isinstance(result.result, OperationalError)
    assert len(claims) == RETRY.max_retries + 1
    job = job_row(job_id)
    assert job.status == "failed" and job.attempts == 0
    assert (job.error or "").startswith("the worker gave up after 6 attempts: OperationalError")


def test_a_queued_job_cancelled_before_its_task_runs_never_runs(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id = people
    job_id = import_job(project_id, lead_id, "cancelled.upload")
    attempts = interrupt_first_attempt(monkeypatch, 1, lambda _: None)
    with session_scope() as session:
        runtime.request_cancel(session, session.get_one(Job, job_id))
    assert import_tasks.apply(args=[job_id]).get() == "skipped"
    assert attempts == []  # the runner's body never started
    job = job_row(job_id)
    assert job.status == "cancelled" and job.attempts == 0 and tasks_of(project_id) == 0


def test_a_running_job_cancelled_stops_at_its_next_progress_report(
    people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id, lead_id = people
    job_id = import_job(project_id, lead_id, "cancel-running.upload")

    def cancel(job_id_: int) -> None:
        with session_scope() as session:  # what POST /api/v1/jobs/{id}/cancel does, from another connection
            runtime.request_cancel(session, session.get_one(Job, job_id_))

    attempts = interrupt_first_attempt(monkeypatch, 1, cancel)
    assert import_tasks.apply(args=[job_id]).get() == "cancelled"
    assert len(attempts) == 1 and attempts[0] < ROWS  # it stopped at the report after the cancel
    job = job_row(job_id)
    assert job.status == "cancelled" and job.attempts == 1 and "nothing was imported" in job.log
    assert tasks_of(project_id) == 0
