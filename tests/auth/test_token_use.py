"""A token's last use is written off the request's path (issue 18, finding 16): a request never writes
the api_tokens row, so a transaction holding that row's lock cannot hold the request up; the time is
written by a background thread in a short transaction of its own, which skips a locked row."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app.auth.token_use import token_use
from app.core.db import get_engine, session_scope
from app.main import create_app
from app.models import ApiToken
from tests import factories


@pytest.fixture
def token_id_and_raw(committed: None) -> tuple[int, str]:
    with session_scope() as session:
        raw = factories.make_token(session, factories.make_user(session))
        token_id = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()).limit(1))
        assert token_id is not None
        return token_id, raw


@pytest.fixture
def no_background_flush(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test flushes itself, so it can look at the notes in between."""
    monkeypatch.setattr(token_use, "interval_s", 3600.0)
    monkeypatch.setattr(token_use, "_last_flush", time.monotonic())
    yield
    token_use.flush()


def _last_used(token_id: int) -> object:
    with session_scope() as session:
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def test_token_use_is_written_by_a_transaction_of_its_own(
    token_id_and_raw: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token_id, raw = token_id_and_raw
    monkeypatch.setattr(token_use, "interval_s", 0.2)  # not a minute: the test would wait for it
    assert _last_used(token_id) is None
    deadline = time.monotonic() + 10
    with TestClient(create_app()) as client:
        while _last_used(token_id) is None:  # written in the background, a round at a time
            assert time.monotonic() < deadline, "last_used_at was never written"
            assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
            time.sleep(0.05)


@pytest.mark.postgresql  # row locks: SQLite locks the whole database instead
def test_a_transaction_holding_the_token_row_does_not_hold_up_its_requests(
    token_id_and_raw: tuple[int, str], no_background_flush: None
) -> None:
    token_id, raw = token_id_and_raw
    app = create_app()
    answers: list[int] = []

    def call() -> None:
        with TestClient(app) as client:
            answers.append(client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code)

    holder = get_engine().connect()
    try:
        holder.execute(text("SELECT id FROM api_tokens WHERE id = :id FOR UPDATE"), {"id": token_id})
        started = time.monotonic()
        request = threading.Thread(target=call, daemon=True)
        request.start()
        request.join(5)
        took = time.monotonic() - started
        assert answers == [200] and took < 3, f"the request waited on the token's row lock ({took:.1f} s)"
        assert token_id in token_use.pending()

        started = time.monotonic()
        assert token_use.flush() == 0  # the row is locked: skipped at once, not waited for
        assert time.monotonic() - started < 2
        assert token_id in token_use.pending()  # and its note kept for the next round
    finally:
        holder.rollback()
        holder.close()
        request.join(10)
    assert token_use.flush() == 1
    assert _last_used(token_id) is not None and token_use.pending() == {}
