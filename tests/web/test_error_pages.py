"""Error pages under the real request session (no test override): a refused page still renders."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.db import session_scope
from app.main import create_app
from tests import factories
from tests.conftest import login


def test_forbidden_page_renders_for_a_signed_in_user(committed: None) -> None:
    with session_scope() as session:
        email = factories.make_user(session).email
    with TestClient(create_app(), follow_redirects=False) as client:
        login(client, email)
        page = client.get("/admin/users")  # admins only: the dependency refuses, the session rolls back
    assert page.status_code == 403
    assert "only administrators can do this" in page.text
    assert email in page.text or "Account" in page.text  # the page around the error still knows the user
