"""The README's run command: `preflab serve` migrates, seeds, serves, runs a worker, and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.needs_worker  # `preflab serve` runs its own worker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_embedded_preflab_with_demo_projects_and_a_worker(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFLAB_")}
    env["PREFLAB_DATA_DIR"] = str(tmp_path / "var")  # SQLite database and SQLite broker, nothing else
    env["PREFLAB_IMPORT_INLINE_MAX_BYTES"] = "1024"  # so an upload below goes through the worker
    out = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while time.monotonic() - started < 120:  # imports are slow on a loaded box
            try:
                if httpx.get(f"{base}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("no /healthz within 120 s:\n" + (tmp_path / "serve.log").read_text()[-3000:])
        log = (tmp_path / "serve.log").read_text()
        match = re.search(r"Created admin (\S+) with password (\S+)", log)
        assert match, log[-2000:]
        email, password = match.groups()

        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
            page = client.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = client.post(
                "/login", data={"email": email, "password": password, "csrf_token": csrf, "next": "/"}
            )
            assert r.status_code == 303 and r.headers["location"] == "/"
            home = client.get("/")
            assert home.status_code == 200
            names = [p["name"] for p in json.loads((ROOT / "app/demo/projects.json").read_text())]
            for name in names:
                assert name in home.text
            assert client.get("/readyz").status_code == 200

            # the embedded worker runs jobs: a file over the inline limit is imported in the background
            token_page = client.post(
                "/account/tokens",
                data={
                    "name": "t",
                    "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1),
                },
            )  # type: ignore[union-attr]
            token = re.search(r"(pfl_[\w-]+)", token_page.text).group(1)  # type: ignore[union-attr]
            auth = {"Authorization": f"Bearer {token}"}
            projects = client.get("/api/v1/projects", headers=auth).json()["items"]
            assert len(projects) == len(names)
            assert all(p["task_count"] >= 40 for p in projects if p["kind"] != "chat")  # chats make their own
            # the shipped stub the demo chat talks to runs beside it
            assert httpx.get("http://127.0.0.1:8001/v1/models", timeout=5).json()["data"][0]["id"] == "stub"
            rows = "\n".join(json.dumps({"prompt": f"extra {i}", "responses": ["a", "b"]}) for i in range(50))
            r = client.post(
                f"/api/v1/projects/{projects[0]['id']}/imports",
                headers=auth,
                files={"file": ("more.jsonl", rows.encode())},
            )
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=auth).json()
                if job["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.3)
            assert job["status"] == "succeeded", job
            assert job["result"]["imported"] == 50
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        out.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-2000:]
    leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.strip()
    assert leftover == "", f"processes left behind: {leftover}"
