"""Issue 18, finding 10, in Chromium: an annotator's browser makes no request to a host that task or model
text points an image at, unless the project allows that host (the control that shows the count works)."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_annotate import _project


def _png() -> bytes:
    """A 1x1 PNG, so the allowed image is a real one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
        + chunk(b"IEND", b"")
    )


PNG = _png()


class _Beacon(ThreadingHTTPServer):
    hits: list[str]


@pytest.fixture
def beacon() -> Iterator[_Beacon]:
    """A tracking-pixel host on loopback that counts every request made to it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = _Beacon(("127.0.0.1", 0), Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _visit(page: Page, live_server: str, beacon: _Beacon, **settings: object) -> None:
    url = f"http://127.0.0.1:{beacon.server_address[1]}/pixel.png"
    rows = [
        {
            "prompt": f"Which is kinder? ![p]({url}?prompt)",
            "responses": [f"This. ![r]({url}?response)", "That."],
        }
    ]
    project_id, email = _project("pairwise", rows, **settings)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator("#workspace section.task")).to_have_count(1)
    page.wait_for_load_state("networkidle")


def test_a_beacon_image_in_task_text_is_never_requested(
    page: Page, live_server: str, beacon: _Beacon
) -> None:
    _visit(page, live_server, beacon)
    assert beacon.hits == []
    expect(page.get_by_text("image from 127.0.0.1 not shown").first).to_be_visible()


def test_a_host_the_project_allows_is_requested(page: Page, live_server: str, beacon: _Beacon) -> None:
    _visit(page, live_server, beacon, image_hosts=["127.0.0.1"])
    expect(page.locator("img[alt=r]")).to_be_visible()
    assert sorted(beacon.hits) == ["/pixel.png?prompt", "/pixel.png?response"]
