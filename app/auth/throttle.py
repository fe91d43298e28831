"""Login throttling: failures counted per key, with lockouts that double.

Keys are an account (`account:<e-mail>`), a known device of one user (`device:<user id>:<nonce>`, from
the signed cookie a successful login leaves, as OWASP's "device cookies"), a signed-in user's
password-change form (`password:<user id>`) and a client address (`address:<ip>`). A correct password
from a known device is checked against that device's count only, so guessing at an account from
elsewhere locks out the guesser, not its owner; the per-address count is a second, much higher line
for unknown devices only, so one address cannot lock out anyone signed in there before.

An attempt is counted before its password is checked, on the key's row locked for the transaction
(PostgreSQL: SELECT … FOR UPDATE; SQLite: the write lock BEGIN IMMEDIATE already holds). Parallel
attempts at one key therefore queue, and each sees the count the one before it left: no more than the
limit are ever checked. A correct password then clears the count. The address is counted after the
check instead, so logins from one address do not queue behind each other's Argon2; that count may pass
its limit by the number of attempts in flight, which the per-account count does not."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.errors import TooManyRequests
from app.models import LoginThrottle

KEY_MAX = 400  # the column's length; an e-mail field typed longer than any address is cut to fit
QUIET_ROWS_PER_SWEEP = 1000


def account_key(email: str) -> str:
    return f"account:{email}"[:KEY_MAX]


def device_key(user_id: int, nonce: str) -> str:
    return f"device:{user_id}:{nonce}"[:KEY_MAX]


def password_key(user_id: int) -> str:
    return f"password:{user_id}"


def address_key(client: str) -> str:
    return f"address:{client}"[:KEY_MAX]


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now, locked_until=None)
        .on_conflict_do_nothing()
    )
    stmt = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def _is_quiet(row: LoginThrottle, now: datetime) -> bool:
    """No failure, and no lock, for a whole window: the count starts again."""
    last = max(row.last_failure_at, row.locked_until or row.last_failure_at)
    return now - last > timedelta(seconds=get_settings().login_window_s)


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def _refuse(row: LoginThrottle, now: datetime, what: str) -> None:
    if row.locked_until is not None and row.locked_until > now:
        wait = _wait_text((row.locked_until - now).total_seconds())
        raise TooManyRequests(
            f"too many failed logins {what}; try again in {wait}, or from a browser you have signed in "
            "with before",
            retry_after=int((row.locked_until - now).total_seconds()) + 1,
        )


def _count(row: LoginThrottle, now: datetime, limit: int) -> None:
    settings = get_settings()
    if _is_quiet(row, now):
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= limit:
        doublings = min(row.failures - limit, 40)
        lock = min(settings.login_lockout_max_s, settings.login_lockout_s * 2**doublings)
        row.locked_until = now + timedelta(seconds=lock)


def reserve(session: Session, key: str, *, limit: int, now: datetime, what: str) -> None:
    """Count one attempt at `key` before its password is checked, or refuse it (429) while the key is
    locked. The row stays locked until the request commits; `clear` undoes the count on success."""
    row = _locked_row(session, key, now)
    _refuse(row, now, what)
    _count(row, now, limit)
    session.flush()


def refuse_if_locked(session: Session, key: str, *, now: datetime, what: str) -> None:
    row = session.get(LoginThrottle, key, populate_existing=True)
    if row is not None:
        _refuse(row, now, what)


def count_failure(session: Session, key: str, *, limit: int, now: datetime) -> None:
    _count(_locked_row(session, key, now), now, limit)
    session.flush()


def clear(session: Session, key: str, *, now: datetime) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    _forget_quiet(session, now)


def _forget_quiet(session: Session, now: datetime) -> None:
    """Rows past any lock and a window beyond it count nothing any more (a guess at a made-up e-mail
    leaves one): a successful login sweeps a batch of them, passing over rows another attempt holds."""
    settings = get_settings()
    cutoff = now - timedelta(seconds=settings.login_lockout_max_s + settings.login_window_s)
    quiet = (
        select(LoginThrottle.key)
        .where(LoginThrottle.last_failure_at < cutoff)
        .limit(QUIET_ROWS_PER_SWEEP)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(quiet.scalar_subquery())))
