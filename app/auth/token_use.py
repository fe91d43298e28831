"""When each API token was last used, written off the request's path (issue 18, finding 16).

Writing `last_used_at` inside the request's own transaction took the token's row lock for the rest of
that request: under load, every other request with the same token queued on that lock behind
transactions that were themselves waiting (for a thread, for a connection), and the web tier wedged.
Now a request only notes the time in memory. A background thread writes the notes in a short
transaction of its own, at most once a minute per process, and skips any row another transaction
holds locked (its note waits for the next round): no request ever waits on a token's row."""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from datetime import datetime

from sqlalchemy import or_, select, update

from app.core.db import session_scope
from app.models import ApiToken

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 60.0


class TokenUse:
    """Last-use times noted by requests, written in batches by one background thread at a time."""

    def __init__(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}
        self._last_flush = float("-inf")
        self._flushing = False

    def note(self, token_id: int, at: datetime) -> None:
        """Called on the request's path: a dictionary write, and now and then a thread started."""
        with self._lock:
            if token_id not in self._pending or self._pending[token_id] < at:
                self._pending[token_id] = at
            due = not self._flushing and time.monotonic() - self._last_flush >= self.interval_s
            if due:
                self._flushing = True
                self._last_flush = time.monotonic()
        if due:
            threading.Thread(target=self._flush_in_background, name="token-use", daemon=True).start()

    def pending(self) -> dict[int, datetime]:
        with self._lock:
            return dict(self._pending)

    def _flush_in_background(self) -> None:
        try:
            self.flush()
        except Exception:  # the database is away or the pool is full: the notes wait for the next round
            log.warning("could not record API token use; will try again", exc_info=True)
        finally:
            with self._lock:
                self._flushing = False

    def flush(self) -> int:
        """Write the notes; returns how many rows took a newer time. A row locked by another transaction
        is skipped, never waited for, and its note kept."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        written = 0
        try:
            with session_scope() as session:
                # SKIP LOCKED: rows another transaction holds are left out (on SQLite, which has no row
                # locks, the clause is dropped and the short write transaction simply takes its turn).
                free = set(
                    session.scalars(
                        select(ApiToken.id).where(ApiToken.id.in_(batch)).with_for_update(skip_locked=True)
                    )
                )
                for token_id in free:
                    at = batch[token_id]
                    result = session.execute(
                        update(ApiToken)
                        .where(
                            ApiToken.id == token_id,
                            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < at),
                        )
                        .values(last_used_at=at)
                    )
                    written += result.rowcount  # type: ignore[attr-defined]
                # Keep the notes of rows that exist but were locked; a token deleted since is forgotten.
                skipped = set(batch) - free
                if skipped:
                    still = set(session.scalars(select(ApiToken.id).where(ApiToken.id.in_(skipped))))
                    self._requeue({i: batch[i] for i in still})
        except BaseException:
            self._requeue(batch)
            raise
        return written

    def _requeue(self, notes: dict[int, datetime]) -> None:
        with self._lock:
            for token_id, at in notes.items():
                if token_id not in self._pending or self._pending[token_id] < at:
                    self._pending[token_id] = at


token_use = TokenUse()


@atexit.register
def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # the process is going; the database may be gone already
        token_use.flush()
