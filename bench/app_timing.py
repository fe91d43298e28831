"""What the page-timing benches share: the app pointed at a bench database, a lead of project 1 signed in
(cookie and token), and how a series of request times is timed and summed up."""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PASSWORD = "long enough pw"


def use_database(url: str) -> None:
    """Point the app (imported after this) at the bench's database, with a data dir and broker of its own."""
    os.environ.update(
        PREFLAB_DATABASE_URL=url,
        PREFLAB_DATA_DIR=tempfile.mkdtemp(),
        PREFLAB_SECRET_KEY="bench",
        PREFLAB_BROKER_URL="redis://127.0.0.1:6379/13",
    )


@dataclass
class Lead:
    client: Any  # a TestClient over the whole app, signed in as the lead
    headers: dict[str, str]  # the lead's API token


def make_lead(session: Any, project_id: int = 1) -> tuple[str, str]:
    """A new lead of the project, in the caller's session: (e-mail, API token)."""
    from app.auth.service import create_token, create_user
    from app.models import Member

    lead = create_user(session, email=f"lead{time.time_ns()}@bench.test", password=PASSWORD)
    session.add(Member(project_id=project_id, user_id=lead.id, role="lead"))
    return lead.email, create_token(session, user=lead, name="bench")[1]


def signed_in(email: str, token: str) -> Lead:
    from fastapi.testclient import TestClient

    from app.main import create_app

    client = TestClient(create_app())
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    form = {"email": email, "password": PASSWORD, "csrf_token": match.group(1), "next": "/"}
    page = client.post("/login", data=form, follow_redirects=False)
    assert page.status_code == 303, page.text
    return Lead(client, {"Authorization": f"Bearer {token}"})


def timed(call: Callable[[], object], n: int) -> list[float]:
    """Milliseconds of each of n calls."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"
