"""`preflab serve` under faults: a worker killed outright is started again and the import it was running
finishes exactly once, with nothing of the interrupted attempt handed out meanwhile; a server killed
outright takes its worker with it."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.needs_worker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check: Callable[[], object], timeout: float, what: str, log: Path) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (httpx.HTTPError, psutil.Error):
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s:\n{log.read_text()[-3000:]}")


def _workers(serve: psutil.Process) -> list[psutil.Process]:
    return [p for p in serve.children() if "celery" in " ".join(p.cmdline())]


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, log: Path, db: Path) -> None:
        self.proc, self.base, self.log, self.db = proc, base, log, db
        self.process = psutil.Process(proc.pid)

    def token(self) -> dict[str, str]:
        match = re.search(r"Created admin (\S+) with password (\S+)", self.log.read_text())
        assert match, self.log.read_text()[-2000:]
        with httpx.Client(base_url=self.base, timeout=10) as client:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert csrf
            client.post("/login", data={"email": match[1], "password": match[2], "csrf_token": csrf[1]})
            home = client.get("/")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
            assert csrf
            page = client.post("/account/tokens", data={"name": "t", "csrf_token": csrf[1]})
            token = re.search(r"(pfl_[\w-]+)", page.text)
            assert token
            return {"Authorization": f"Bearer {token[1]}"}

    def open_tasks(self, project_id: int) -> int:
        with sqlite3.connect(self.db) as conn:
            query = "SELECT count(*) FROM tasks WHERE project_id = ? AND status = 'open'"
            return int(conn.execute(query, (project_id,)).fetchone()[0])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module (starting one costs tens of seconds): the last test kills it."""
    tmp_path = tmp_path_factory.mktemp("serve-faults")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFLAB_")}
    env.update(
        PREFLAB_DATA_DIR=str(tmp_path / "var"),
        PREFLAB_IMPORT_INLINE_MAX_BYTES="1024",  # uploads go through the worker
        PREFLAB_IMPORT_BATCH_SIZE="500",  # many batches, so the kill lands mid-import
        PREFLAB_JOB_HEARTBEAT_TIMEOUT_S="4",
        PREFLAB_JOB_SWEEP_INTERVAL_S="1",
    )
    log = tmp_path / "serve.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    served = Served(proc, f"http://127.0.0.1:{port}", log, tmp_path / "var" / "preflab.db")
    try:
        _until(lambda: httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200, 120, "healthz", log)
        _until(lambda: _workers(served.process), 30, "a worker", log)
        yield served
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        out.close()


def test_a_killed_worker_is_started_again_and_its_import_lands_exactly_once(served: Served) -> None:
    auth = served.token()
    projects = httpx.get(f"{served.base}/api/v1/projects", headers=auth).json()["items"]
    project_id = projects[0]["id"]
    before = served.open_tasks(project_id)
    rows = 30_000
    body = "\n".join(
        json.dumps({"prompt": f"kill {i}", "responses": [f"a {i}", f"b {i}"]}) for i in range(rows)
    )
    r = httpx.post(
        f"{served.base}/api/v1/projects/{project_id}/imports",
        headers=auth,
        files={"file": ("many.jsonl", body.encode())},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job_url = f"{served.base}/api/v1/jobs/{r.json()['job_id']}"

    def writing() -> bool:
        return "rows written" in httpx.get(job_url, headers=auth).json()["progress_message"]

    _until(writing, 60, "the import writing its batches", served.log)
    (first,) = _workers(served.process)
    first.kill()  # kill -9 of the worker mid-import
    first.wait(10)
    assert served.open_tasks(project_id) == before  # the batches it committed are not handed out

    second = _until(lambda: _workers(served.process), 30, "a new worker", served.log)
    assert isinstance(second, list) and second[0].pid != first.pid

    def ended() -> dict[str, object] | None:
        job: dict[str, object] = httpx.get(job_url, headers=auth).json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    job = _until(ended, 120, "the import to end after the restart", served.log)
    assert isinstance(job, dict)
    assert job["status"] == "succeeded", job
    assert job["result"] == {"imported": rows, "duplicates": 0, "rows": rows}  # type: ignore[comparison-overlap]
    assert served.open_tasks(project_id) == before + rows


def _ended(process: psutil.Process) -> bool:
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_a_server_killed_outright_leaves_no_worker_or_stub_behind(served: Served) -> None:
    (worker,) = _workers(served.process)
    # the demo chat's LLM stub runs beside it, unless something else already answered on its port
    stubs = [p for p in served.process.children() if "app.web.llm_stub" in " ".join(p.cmdline())]
    assert len(stubs) <= 1
    os.kill(served.proc.pid, signal.SIGKILL)
    served.proc.wait(10)
    _until(lambda: _ended(worker), 20, "the worker to end", served.log)
    for stub in stubs:
        _until(lambda stub=stub: _ended(stub), 20, "the LLM stub to end", served.log)
