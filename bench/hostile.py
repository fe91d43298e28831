"""Hostile input against a live server, watching the server process, not only the answer: for each payload
of the hardening issue it prints the status, the time to answer, the CPU the server spent and how much its
resident memory grew at the peak (sampled every 20 ms) and stayed grown after.

    .venv/bin/python bench/hostile.py

Embedded SQLite in a temporary data dir; one uvicorn process. Payloads: a 100 KB `.json` nested 50,000
deep; a gzip of 1 GiB of spaces (~1 MB); a gzip of one 1 GiB line; a prompt-template preview that would
build a 1 GB string, and one that loops over range(100001); 100,000 nameless multipart parts; and the
images issue's: a .zip whose image inflates to 1 GiB (a zip bomb), a PNG of a few hundred bytes claiming
50,000 x 50,000 pixels, a .zip of 100,001 entries, a row naming a file outside the archive, and a JSONL
row whose data-URI image is 40 MB of base64."""

from __future__ import annotations

import sys

sys.path[:] = [p for p in sys.path if not p.endswith("bench")]  # bench/queue.py shadows the stdlib's

import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GIB = 1 << 30


def gzip_of(chunk: bytes, total: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    """A gzip stream of head + chunk repeated to `total` bytes + tail, built without holding the whole."""
    out = io.BytesIO()
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    out.write(packer.compress(head))
    block = chunk * (1 << 20)
    for _ in range(total // len(block)):
        out.write(packer.compress(block))
    out.write(packer.compress(tail))
    out.write(packer.flush())
    return out.getvalue()


class Watch(threading.Thread):
    """The server's peak RSS and CPU seconds while one request runs."""

    def __init__(self, proc: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.proc, self.stop = proc, threading.Event()
        self.base = proc.memory_info().rss
        self.peak = self.base
        times = proc.cpu_times()
        self.cpu0 = times.user + times.system

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def end(self) -> tuple[float, float, float]:
        self.stop.set()
        self.join()
        times = self.proc.cpu_times()
        after = self.proc.memory_info().rss
        return (
            (self.peak - self.base) / 2**20,
            (after - self.base) / 2**20,
            times.user + times.system - self.cpu0,
        )


def zip_of(
    rows: list[dict[str, object]], files: dict[str, bytes], big: tuple[str, int] | None = None
) -> bytes:
    """A .zip of a rows file and images; `big`: one more entry of that many zero bytes, written in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("rows.jsonl", "\n".join(json.dumps(r) for r in rows))
        for path, data in files.items():
            z.writestr(path, data)
        if big is not None:
            with z.open(big[0], "w", force_zip64=True) as entry:
                for _ in range(big[1] // 2**20):
                    entry.write(bytes(2**20))
    return out.getvalue()


def image_row(images: list[str], i: int = 0) -> dict[str, object]:
    ask = [{"role": "user", "content": "<image>Which fits?" * len(images)}]
    return {
        "external_id": f"img-{i}",
        "messages": ask,
        "images": images,
        "responses": ["A square", "A circle"],
    }


def job_verdict(job_id: int) -> str:
    """Run the queued import job in this process (as the worker would) and say how it ended, with this
    process's CPU and peak memory growth while it ran."""
    from app.core.db import session_scope
    from app.imports.job import run_import_job
    from app.models import Job

    me = psutil.Process()
    watch = Watch(me)
    watch.start()
    run_import_job(job_id)
    peak, _, cpu = watch.end()
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        errors = (job.result or {}).get("errors") or []
        said = f"line {errors[0]['line']}: {errors[0]['message']}" if errors else job.error or job.status
    return f"job {job.status} (worker cpu {cpu:.2f} s, peak +{peak:.1f} MB): {said}"


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="preflab-hostile-"))
    env = {
        **os.environ,
        "PREFLAB_DATA_DIR": str(data),
        "PREFLAB_DATABASE_URL": f"sqlite:///{data / 'preflab.db'}",
        "PREFLAB_SECRET_KEY": "hostile-bench",
    }
    os.environ.update(env)
    from app.auth.service import create_token, create_user
    from app.cli import run_migrations
    from app.core.db import session_scope
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project
    from tests import factories

    run_migrations()
    password = "hostile-bench-password"
    with session_scope() as session:
        lead = create_user(session, email="lead@hostile.test", password=password, is_admin=True)
        project = create_project(session, data=ProjectCreate(name="hostile", kind="pairwise"), user=lead)
        _, token = create_token(session, user=lead, name="bench")
        pid = project.id
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        proc = psutil.Process(server.pid)
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600)
        page = httpx.Client(base_url=base, timeout=600)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text)
        assert csrf
        page.post("/login", data={"email": "lead@hostile.test", "password": password, "csrf_token": csrf[1]})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get(f"/projects/{pid}/prelabel").text)
        assert csrf

        def upload(name: str, body: bytes) -> Callable[[], httpx.Response]:
            return lambda: api.post(f"/api/v1/projects/{pid}/imports", files={"file": (name, body)})

        def preview(body: str) -> Callable[[], httpx.Response]:
            form = {"csrf_token": csrf[1], "system": "", "body": body, "preview": "1"}
            return lambda: page.post(f"/projects/{pid}/prelabel/templates/judge", data=form)

        depth = 50_000
        parts = [("x", (None, b"")) for _ in range(100_000)]
        line = gzip_of(b"a", GIB, head=b'{"prompt": "', tail=b'"}\n')
        cases: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("a .json nested 50,000 deep", upload("deep.json", b"[" * depth + b"]" * depth)),
            ("a gzip of 1 GiB of spaces", upload("blank.jsonl.gz", gzip_of(b" ", GIB))),
            ("a gzip of one 1 GiB line", upload("line.jsonl.gz", line)),
            ("a preview building 1 GB", preview("{{ ('a' * 1000000000)|length }}")),
            ("a preview looping range(100001)", preview("{% for i in range(100001) %}{% endfor %}")),
            (
                "100,000 nameless multipart parts",
                lambda: api.post(f"/api/v1/projects/{pid}/imports", files=parts),
            ),
            (
                "a zip whose image inflates to 1 GiB",
                upload("bomb.zip", zip_of([image_row(["a.png"])], {}, ("a.png", GIB))),
            ),
            (
                "a PNG claiming 50,000 x 50,000 px",
                upload("pixels.zip", zip_of([image_row(["a.png"])], {"a.png": factories.pixel_bomb()})),
            ),
            (
                "a zip of 100,001 entries",
                upload("many.zip", zip_of([image_row(["a.png"])], {f"f{i}": b"" for i in range(100_001)})),
            ),
            (
                "a row naming ../../etc/passwd",
                upload("climb.zip", zip_of([image_row(["../../etc/passwd"])], {})),
            ),
            (
                "a 40 MB data-URI image",
                upload(
                    "uri.jsonl",
                    (json.dumps(image_row(["data:image/png;base64," + "A" * 40 * 2**20])) + "\n").encode(),
                ),
            ),
        ]
        columns = ("status", "answer s", "server cpu s", "peak +MB", "kept +MB")
        print(f"{'payload':34}" + "".join(f"{c:>14}" for c in columns))
        for name, call in cases:
            watch = Watch(proc)
            watch.start()
            started = time.perf_counter()
            response = call()
            took = time.perf_counter() - started
            peak, kept, cpu = watch.end()
            cells = (response.status_code, f"{took:.2f}", f"{cpu:.2f}", f"{peak:.1f}", f"{kept:.1f}")
            print(f"{name:34}" + "".join(f"{c:>14}" for c in cells))
            try:
                body = response.json()
                said = (body.get("errors") or [{}])[0].get("message") or body.get("detail")
                said = f"line {body['errors'][0]['line']}: {said}" if body.get("errors") else said
            except ValueError:
                found = re.search(r'role="alert"[^>]*>\s*([^<]{0,140})', response.text)
                said = found[1] if found else response.text[:140]
            if (
                response.status_code == 202
            ):  # a large upload: the import job's verdict, run here as a worker would
                said = job_verdict(response.json()["job_id"])
            print(f"{'':34}  {str(said)[:140]}")
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
