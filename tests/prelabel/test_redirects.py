"""An endpoint that answers a redirect never moves a project's prompts elsewhere: the allow-list checks
base_url's host only, so the worker's client follows no redirect at all (issue 18, finding 1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from app.core.config import get_settings
from app.core.db import session_scope
from app.prelabel.job import run_prelabel_job
from app.web.llm_stub import StubServer
from tests.prelabel.conftest import job_row, project_with_tasks, start, suggestions_of

pytestmark = pytest.mark.usefixtures("committed")

LABELS = {"labels": ["Billing", "Delivery", "Account"]}
SECRET = "the private prompt of ticket"


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        super().__init__((host, 0), Handler)
        self.redirect_to = redirect_to
        self.bodies: list[bytes] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.bodies.append(body)
        if self.server.redirect_to:
            self.send_response(307)
            self.send_header("Location", f"{self.server.redirect_to}/chat/completions")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = orjson.dumps(
            {
                "choices": [{"message": {"content": '{"labels": ["Billing"], "confidence": 0.9}'}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serving(server: Recorder) -> Iterator[Recorder]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    """A host off the allow-list (127.0.0.2: loopback on Linux, but the list names 127.0.0.1 only)."""
    yield from serving(Recorder("127.0.0.2"))


@pytest.fixture
def redirecting(elsewhere: Recorder) -> Iterator[Recorder]:
    """An allowed endpoint that answers every request with 307 to `elsewhere`."""
    yield from serving(Recorder("127.0.0.1", redirect_to=elsewhere.url))


@pytest.mark.parametrize("private", [True, False])
def test_a_redirect_is_not_followed_and_nothing_reaches_the_other_host(
    llm: StubServer,
    redirecting: Recorder,
    elsewhere: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    private: bool,
) -> None:
    monkeypatch.setattr(get_settings(), "llm_allowed_hosts", "127.0.0.1")
    with session_scope() as s:
        prompts = [f"{SECRET} {i}: I was charged twice, please refund." for i in range(2)]
        project, lead = project_with_tasks(s, llm, settings=LABELS, prompts=prompts, base_url=redirecting.url)
        project.is_private = private
        job_id = start(s, project, lead, mode="label")
    run_prelabel_job(job_id)
    assert elsewhere.bodies == []  # the other host received nothing: no prompt, no request at all
    assert len(redirecting.bodies) == 2 and SECRET.encode() in redirecting.bodies[0]  # one try per item
    rows = suggestions_of(job_id)
    assert len(rows) == 2 and all(r.error for r in rows)
    error = rows[0].error or ""
    assert "307" in error and "redirect" in error and "127.0.0.2" in error and "base_url" in error
    assert "not followed" in error
    assert job_row(job_id).progress is not None
