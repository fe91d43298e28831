"""Chat tests: the real `openai` client streams from the OpenAI-compatible stub (app/web/llm_stub.py)
served from a thread of the test process; the jobs run inline here, or in a real worker process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.core.db import session_scope
from app.models import Role
from app.web.llm_stub import StubServer
from tests import factories


@pytest.fixture(scope="session")
def chat_stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def stub(chat_stub: StubServer) -> StubServer:
    chat_stub.state.reset()
    chat_stub.state.latency_ms = 0
    chat_stub.state.stream_ms = 5
    return chat_stub


def chat_project(stub: StubServer, **settings: Any) -> dict[str, Any]:
    """A chat project on the stub (no client retries: a failure shows) with its lead and an annotator."""
    with session_scope() as session:
        lead, annotator = factories.make_user(session), factories.make_user(session)
        project = factories.make_project(
            session, kind="chat", lead=lead, settings={"models": ["model-a", "model-b"], **settings}
        )
        project.llm = {"base_url": stub.base_url, "model": "stub", "credential": "", "max_retries": 0}
        factories.add_member(session, project, annotator, Role.annotator)
        return {"project_id": project.id, "lead_id": lead.id, "annotator_id": annotator.id,
                "annotator_email": annotator.email}  # fmt: skip
