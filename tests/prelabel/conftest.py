"""Pre-label tests talk to the real `openai` client, pointed at the OpenAI-compatible stub
(app/web/llm_stub.py) served on 127.0.0.1 from a thread of the test process, so tests read its counters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.core.db import session_scope
from app.jobs.runtime import create_job
from app.models import Job, Project, Suggestion
from app.prelabel import service
from app.prelabel.schemas import PrelabelRequest
from app.web.llm_stub import StubServer
from tests import factories


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def llm(stub_server: StubServer) -> StubServer:
    """The stub with its counters cleared and no added latency."""
    stub_server.state.reset()
    stub_server.state.latency_ms = 0
    return stub_server


def endpoint(stub: StubServer, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": stub.base_url,
        "model": "stub-model",
        "credential": "",
        "max_retries": 4,
        **overrides,
    }


def project_with_tasks(
    session: Session,
    stub: StubServer,
    *,
    kind: str = "classification",
    prompts: list[str] | None = None,
    responses: list[list[str]] | None = None,
    settings: dict[str, Any] | None = None,
    n: int = 5,
    **llm: Any,
) -> tuple[Project, Any]:
    lead = factories.make_user(session)
    project = factories.make_project(session, kind=kind, lead=lead, settings=settings)
    project.llm = endpoint(stub, **llm)
    texts = prompts or [
        f"Message {i}: I was charged twice for my order, please refund the payment." for i in range(n)
    ]
    for i, text in enumerate(texts):
        factories.make_task(session, project, text, (responses or [[]] * len(texts))[i], external_id=f"x-{i}")
    session.flush()
    return project, lead


def start(session: Session, project: Project, lead: Any, *, enqueue: bool = False, **request: Any) -> int:
    """A queued pre-label job. Tests that run it in this process keep it off the broker, so a worker
    started by a later test never picks up a job id that a truncated table gives out again."""
    job, _, _ = service.start_prelabel_job(
        session, project=project, user=lead, request=PrelabelRequest.model_validate(request)
    )
    if not enqueue:
        session.info.pop("preflab_pending_tasks", None)
    return job.id


def job_row(job_id: int) -> Job:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
        return job


def suggestions_of(job_id: int) -> list[Suggestion]:
    from sqlalchemy import select

    with session_scope() as session:
        rows = list(
            session.scalars(select(Suggestion).where(Suggestion.job_id == job_id).order_by(Suggestion.id))
        )
        for row in rows:
            session.expunge(row)
        return rows


__all__ = ["create_job", "endpoint", "job_row", "project_with_tasks", "start", "suggestions_of"]
