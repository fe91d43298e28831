"""The job runtime's lifecycle on the real database: who may claim a job, what a progress report does,
how a cancel reaches a runner, and that a silent running job of any kind is recovered: sent again, or
failed once it used its attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.db import session_scope
from app.core.errors import InvalidInput
from app.jobs.outbox import recover_if_stale
from app.jobs.runtime import (
    RETRY,
    JobCancelled,
    claim_job,
    finish_job,
    is_stale,
    request_cancel,
    run_job,
)
from app.models import Job, utcnow
from tests import factories


def queued(session: Session, kind: str = "export") -> Job:
    project = factories.make_project(session, lead=factories.make_user(session))
    return factories.make_job(session, project, None, kind=kind)


def test_a_queued_job_is_claimed_once_and_beats_from_the_start(db: Session) -> None:
    job = queued(db)
    claimed = claim_job(db, job.id, "export")
    assert claimed is job and job.status == "running" and job.attempts == 1
    assert job.started_at is not None and job.heartbeat_at is not None


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_an_ended_job_is_never_claimed_again(db: Session, status: str) -> None:
    job = queued(db)
    finish_job(job, status)
    assert claim_job(db, job.id, "export") is None
    assert job.status == status and job.attempts == 0


def test_a_job_of_another_kind_is_not_claimed(db: Session) -> None:
    job = queued(db, kind="import")
    assert claim_job(db, job.id, "export") is None  # a message that outlived its row names another job
    assert claim_job(db, job.id + 1000, "import") is None
    assert job.status == "queued" and job.attempts == 0


def test_cancelling_a_queued_job_ends_it_and_its_claim_finds_nothing(db: Session) -> None:
    job = queued(db)
    request_cancel(db, job)
    assert job.status == "cancelled" and job.finished_at is not None
    assert claim_job(db, job.id, "export") is None


def test_cancelling_a_running_job_only_asks_its_runner(db: Session) -> None:
    job = queued(db)
    claim_job(db, job.id, "export")
    request_cancel(db, job)
    assert job.status == "running" and job.cancel_requested


KINDS = ["import", "export", "prelabel", "scoring", "stats", "ordering", "training"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_silent_running_job_of_any_kind_is_sent_again_with_a_readable_note(db: Session, kind: str) -> None:
    job = queued(db, kind=kind)
    claim_job(db, job.id, kind)
    sent = job.dispatches
    job.heartbeat_at = utcnow() - timedelta(minutes=10)
    recover_if_stale(db, job)
    assert job.status == "queued" and job.dispatches == sent + 1 and job.error is None
    assert job.progress_message.startswith("its worker stopped: no heartbeat for 6")
    assert "sent again" in job.log
    assert claim_job(db, job.id, kind) is job and job.attempts == 2  # the next message runs it


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_whose_worker_keeps_dying_fails_once_its_attempts_are_spent(db: Session, kind: str) -> None:
    job = queued(db, kind=kind)
    claim_job(db, job.id, kind)
    job.attempts = RETRY.max_retries + 1
    job.heartbeat_at = utcnow() - timedelta(minutes=10)
    recover_if_stale(db, job)
    assert job.status == "failed" and job.error is not None
    assert job.error.startswith("its worker stopped: no heartbeat for 6")
    assert job.error.endswith(f"gave up after {RETRY.max_retries + 1} attempts")


def test_a_job_that_beats_is_not_stale_and_a_second_message_does_not_run_it_twice(db: Session) -> None:
    job = queued(db, kind="import")
    claim_job(db, job.id, "import")
    job.heartbeat_at = utcnow() - timedelta(seconds=30)
    assert recover_if_stale(db, job).status == "running"
    assert claim_job(db, job.id, "import") is None  # its live worker holds it
    assert job.attempts == 1


def test_a_job_marked_running_without_a_heartbeat_is_held_by_no_worker(db: Session) -> None:
    job = queued(db, kind="import")
    job.status = "running"  # by hand, or by a release that did not beat: no started_at, no heartbeat_at
    assert is_stale(job)
    assert claim_job(db, job.id, "import") is job and job.attempts == 1 and job.heartbeat_at is not None
    job.status, job.started_at, job.heartbeat_at = "running", None, None
    recover_if_stale(db, job)
    assert job.status == "queued" and "never sent a heartbeat" in (job.log or "")


def test_a_cancel_of_a_running_job_that_no_worker_holds_ends_it_at_once(db: Session) -> None:
    job = queued(db, kind="import")
    claim_job(db, job.id, "import")
    job.heartbeat_at = utcnow() - timedelta(minutes=10)
    request_cancel(db, job)
    assert job.status == "cancelled" and job.finished_at is not None
    assert claim_job(db, job.id, "import") is None


def test_the_jobs_api_recovers_a_stale_import_when_it_is_read(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    job = factories.make_job(db, project, lead, kind="import")
    job.status, job.heartbeat_at, job.attempts = "running", utcnow() - timedelta(minutes=5), 1
    db.flush()
    read = client.get(
        f"/api/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    )
    assert read.status_code == 200
    assert read.json()["status"] == "queued" and "no heartbeat" in read.json()["progress_message"]


# ---- the runner's side, with real commits ------------------------------------------------------------


@pytest.fixture
def stats_job(committed: None) -> int:
    with session_scope() as session:
        return queued(session, kind="stats").id


def row(job_id: int) -> Job:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def test_progress_records_how_far_and_beats_the_heartbeat(stats_job: int) -> None:
    with run_job(stats_job, "stats") as run:
        assert run is not None
        with session_scope() as session:
            session.get_one(Job, stats_job).heartbeat_at = utcnow() - timedelta(minutes=10)
        run.progress(0.4, "4 of 10 steps")
        job = row(stats_job)
        assert job.progress == 0.4 and job.progress_message == "4 of 10 steps"
        assert job.heartbeat_at is not None and utcnow() - job.heartbeat_at < timedelta(seconds=5)
        assert not is_stale(job)
        run.progress(1.0, "done")
        assert row(stats_job).progress == 0.99  # 1.0 is for a job that succeeded
    job = row(stats_job)
    assert job.status == "succeeded" and job.progress == 1.0


def test_a_cancel_reaches_the_runner_at_its_next_progress_report(stats_job: int) -> None:
    steps: list[int] = []
    with run_job(stats_job, "stats") as run:
        assert run is not None
        for step in range(10):
            if step == 3:
                with session_scope() as session:  # the lead's cancel, from another connection
                    request_cancel(session, session.get_one(Job, stats_job))
            run.progress(step / 10, f"step {step}")
            steps.append(step)
    assert steps == [0, 1, 2]
    job = row(stats_job)
    assert job.status == "cancelled" and run.status == "cancelled" and "cancelled" in job.log
    assert claim_job_in_new_session(stats_job) is None


def claim_job_in_new_session(job_id: int) -> Job | None:
    with session_scope() as session:
        return claim_job(session, job_id, "stats")


def test_a_runner_error_fails_the_job_readably(stats_job: int) -> None:
    with run_job(stats_job, "stats", failure="the figures could not be computed: {error}") as run:
        assert run is not None
        raise ValueError("division by zero in the agreement")
    job = row(stats_job)
    assert job.status == "failed"
    assert job.error == "the figures could not be computed: division by zero in the agreement"


def test_a_domain_error_fails_the_job_with_its_message(stats_job: int) -> None:
    with run_job(stats_job, "stats") as run:
        assert run is not None
        raise InvalidInput("the project has no tasks yet; import some first")
    assert row(stats_job).error == "the project has no tasks yet; import some first"


def test_a_settle_hook_follows_every_end_in_the_same_transaction(stats_job: int) -> None:
    seen: list[str] = []
    with run_job(stats_job, "stats") as run:
        assert run is not None
        run.settle = lambda session, job: seen.append(job.status)
        raise JobCancelled
    assert seen == ["cancelled"] and row(stats_job).status == "cancelled"


def test_a_job_ended_as_stale_is_not_overwritten_by_its_runner_stopping(stats_job: int) -> None:
    with run_job(stats_job, "stats") as run:
        assert run is not None
        with session_scope() as session:
            job = session.get_one(Job, stats_job)
            job.heartbeat_at, job.attempts = utcnow() - timedelta(minutes=10), RETRY.max_retries + 1
            recover_if_stale(session, job)  # a reader gave up on it meanwhile
        with pytest.raises(JobCancelled):
            run.progress(0.5, "half")  # the runner learns it at its next report
        raise JobCancelled
    job = row(stats_job)
    assert job.status == "failed" and "no heartbeat" in (job.error or "")
