"""Images named by URL: an upload that names one is imported by the worker, which fetches each image from
public hosts only (unless PREFLAB_IMAGE_FETCH_HOSTS lists others), follows no redirect, and keeps to the
size and type limits; a refused image fails the import naming the row and the URL, nothing imported."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.config import get_settings
from app.core.db import session_scope
from app.main import create_app
from app.media.fetch import fetch_image
from app.media.images import ImageRefused
from app.models import Job, Task
from tests import factories

PNG = factories.image_bytes("PNG", (24, 24), (0, 150, 90))


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {
            "/cat.png": (200, "image/png", PNG, {}),
            "/page": (200, "text/html", b"<html>no image</html>", {}),
            "/moved": (302, "text/plain", b"", {"Location": "/cat.png"}),
            "/huge.png": (200, "image/png", PNG + b"\0" * (3 * 2**20), {}),
        }
        status, kind, body, headers = routes.get(self.path, (404, "text/plain", b"missing", {}))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def images_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PREFLAB_IMAGE_FETCH_HOSTS", "loopback")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("PREFLAB_IMAGE_FETCH_HOSTS")
    get_settings.cache_clear()


def test_by_default_nothing_is_fetched_from_this_network(images_host: str) -> None:
    for url in (f"{images_host}/cat.png", "http://10.1.2.3/x.png", "http://169.254.169.254/latest/meta-data"):
        with pytest.raises(ImageRefused, match="loopback, private or reserved address"):
            fetch_image(url)
    with pytest.raises(ImageRefused, match="not an http"):
        fetch_image("file:///etc/passwd")


def test_what_a_fetch_takes_and_refuses(images_host: str, loopback_allowed: None) -> None:
    assert fetch_image(f"{images_host}/cat.png") == PNG
    with pytest.raises(ImageRefused, match="answered text/html, not an image"):
        fetch_image(f"{images_host}/page")
    with pytest.raises(ImageRefused, match="HTTP 302 \\(redirects are not followed"):
        fetch_image(f"{images_host}/moved")
    with pytest.raises(ImageRefused, match="HTTP 404"):
        fetch_image(f"{images_host}/nothing.png")
    os.environ["PREFLAB_MAX_IMAGE_MB"] = "1"
    get_settings.cache_clear()
    try:
        with pytest.raises(ImageRefused, match="PREFLAB_MAX_IMAGE_MB"):
            fetch_image(f"{images_host}/huge.png")
    finally:
        del os.environ["PREFLAB_MAX_IMAGE_MB"]
        get_settings.cache_clear()


def test_rows_posted_as_json_cannot_name_images_by_url(client: TestClient, db: Any, images_host: str) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    row = {"prompt": "What is this? <image>", "images": [f"{images_host}/cat.png"], "responses": ["a", "b"]}
    r = client.post(
        f"/api/v1/projects/{project.id}/tasks",
        headers={"Authorization": f"Bearer {factories.make_token(db, lead)}"},
        json=[row],
    )
    assert r.status_code == 422 and "upload the rows as a file" in r.json()["errors"][0]["message"]


@pytest.fixture(scope="module")
def worker_fetching_from_loopback() -> Iterator[None]:
    """The module's worker may fetch from this machine (the test's image server): set before it starts."""
    os.environ["PREFLAB_IMAGE_FETCH_HOSTS"] = "loopback"
    yield
    del os.environ["PREFLAB_IMAGE_FETCH_HOSTS"]


def test_an_upload_naming_urls_is_imported_by_the_worker_which_fetches_them(
    committed: None,
    images_host: str,
    worker_fetching_from_loopback: None,
    celery_worker: object,
    job_waiter: Callable[..., Job],
) -> None:
    with session_scope() as s:
        lead = factories.make_user(s)
        project = factories.make_project(s, lead=lead)
        pid, token = project.id, factories.make_token(s, lead)
    auth = {"Authorization": f"Bearer {token}"}
    good = {"prompt": "What is this? <image>", "images": [f"{images_host}/cat.png"], "responses": ["a", "b"]}
    bad = {**good, "images": [f"{images_host}/page"], "external_id": "bad"}
    with TestClient(create_app()) as client:
        r = client.post(f"/api/v1/projects/{pid}/imports", headers=auth,
                        files={"file": ("rows.jsonl", json.dumps(good).encode())})  # fmt: skip
        assert r.status_code == 202, r.text  # small, but its images are the worker's to fetch
        job = job_waiter(r.json()["job_id"])
        assert job.status == "succeeded", job.error
        body = "\n".join(json.dumps(x) for x in (good | {"external_id": "ok"}, bad)).encode()
        r = client.post(f"/api/v1/projects/{pid}/imports", headers=auth, files={"file": ("rows.jsonl", body)})
        failed = job_waiter(r.json()["job_id"])
    assert failed.status == "failed"
    (error,) = failed.result["errors"]
    assert error["line"] == 2 and "/page" in error["message"] and "not an image" in error["message"]
    with session_scope() as s:
        (task,) = s.scalars(select(Task).where(Task.project_id == pid)).all()  # the failed file left nothing
        assert task.meta["images"][0]["bytes"] == len(PNG)
