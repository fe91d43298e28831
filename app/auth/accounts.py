"""What an administrator does to other accounts: deactivate and reactivate them, and hand over a single-use,
expiring link that lets the user set a new password (the admin never sees or sets it).

A deactivated user is out at once everywhere: the login refuses them (authenticate checks is_active), every
session cookie they hold is refused (their session generation is bumped, and app/web/deps.py checks
is_active too), and their API tokens are refused (user_for_token joins on an active user)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.auth.audit import record
from app.auth.service import check_new_password, end_sessions
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_api_token, hash_password
from app.models import PasswordReset, User, utcnow

LINK_GONE = "this link is not valid any more: it was used already, it expired, or it never existed"


def new_link_token() -> str:
    """The secret part of an invite or reset link: 256 random bits; the database keeps only its SHA-256."""
    return secrets.token_urlsafe(32)


def link_url(path: str, token: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/{path}/{token}"


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def set_active(session: Session, *, user: User, active: bool, actor: User) -> User:
    """Deactivate (every session and token stops at once) or reactivate an account. An admin cannot
    deactivate themselves, nor the last active admin: the active admins' rows are locked first, so two
    admins deactivating each other at once cannot both succeed."""
    if user.is_active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise Conflict("you cannot deactivate your own account; ask another admin")
        if user.is_admin:
            admins = select(User.id).where(User.is_admin, User.is_active).with_for_update()
            others = set(session.scalars(admins)) - {user.id}
            if not others:
                raise Conflict("this is the last active admin; make another user an admin first")
        end_sessions(session, user)
    user.is_active = active
    session.flush()
    action = "user.reactivate" if active else "user.deactivate"
    record(session, action, user_id=actor.id, target=("user", user.id))
    return user


def active_admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.is_admin, User.is_active)) or 0


def create_reset_link(session: Session, *, user: User, actor: User) -> tuple[str, datetime]:
    """A new password-reset link for `user` (its URL and expiry); any earlier unused link of theirs stops
    working, so only the newest one handed over counts."""
    if not user.is_active:
        raise Conflict("this account is deactivated; reactivate it first")
    session.execute(
        delete(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
    )
    token = new_link_token()
    expires_at = utcnow() + timedelta(hours=get_settings().reset_link_hours)
    reset = PasswordReset(
        user_id=user.id, token_hash=hash_api_token(token), created_by_id=actor.id, expires_at=expires_at
    )
    session.add(reset)
    session.flush()
    record(session, "user.password_reset_link", user_id=actor.id, target=("user", user.id))
    return link_url("reset", token), expires_at


def _usable_reset(token: str, now: datetime) -> ColumnElement[bool]:
    return (
        (PasswordReset.token_hash == hash_api_token(token))
        & PasswordReset.used_at.is_(None)
        & (PasswordReset.expires_at > now)
    )


def reset_for(session: Session, token: str) -> tuple[PasswordReset, User]:
    """The usable reset link behind `token` and its user, or NotFound (one message for used, expired
    and unknown links)."""
    row = session.execute(
        select(PasswordReset, User)
        .join(User, User.id == PasswordReset.user_id)
        .where(_usable_reset(token, utcnow()), User.is_active)
    ).first()
    if row is None:
        raise NotFound(LINK_GONE)
    return row[0], row[1]


def use_reset_link(session: Session, *, token: str, password: str, repeat: str) -> User:
    """Set the password through a reset link: the link is spent (one UPDATE that only an unused, unexpired
    link matches, so two uses at once cannot both pass) and every session of the user ends."""
    reset, user = reset_for(session, token)
    if password != repeat:
        raise InvalidInput("the two passwords differ; type the same one twice", field="password")
    check_new_password(password)
    spent = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, _usable_reset(token, utcnow()))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(LINK_GONE)
    user.password_hash = hash_password(password)
    end_sessions(session, user)
    record(session, "user.password_reset", user_id=user.id, target=("user", user.id))
    return user
