"""End to end: the API queues a label job, a real Celery worker (Redis broker) runs it against the stub."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.db import session_scope
from app.main import create_app
from app.models import Job, Suggestion
from app.web.llm_stub import StubServer
from tests import factories
from tests.prelabel.conftest import project_with_tasks


def test_a_label_job_runs_on_the_worker(
    committed: None, llm: StubServer, celery_worker: object, job_waiter: Callable[..., Job]
) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s,
            llm,
            settings={"labels": ["Billing", "Delivery"]},
            n=8,
            price_in_per_1k=1.0,
            price_out_per_1k=1.0,
        )
        project_id, token = project.id, factories.make_token(s, lead)
    with TestClient(create_app()) as client:
        answer = client.post(
            f"/api/v1/projects/{project_id}/prelabel",
            json={"mode": "label"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text
    job = job_waiter(answer.json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    assert job.result["done"] == 8 and job.result["cost"] > 0 and llm.state.requests == 8
    with session_scope() as s:
        assert (
            s.scalar(select(func.count()).where(Suggestion.job_id == job.id, Suggestion.error.is_(None))) == 8
        )
