"""Users, API tokens and login checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.auth import throttle
from app.auth.audit import record
from app.auth.policies import own
from app.auth.token_use import token_use
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_api_token, hash_password, new_api_token, verify_password
from app.models import ApiToken, User, utcnow

MIN_PASSWORD, MAX_PASSWORD = 8, 500


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    is_admin: bool = False,
    actor: User | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput(f"'{email}' is not an e-mail address")
    check_new_password(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(
        email=email,
        name=name or email.split("@")[0],
        password_hash=hash_password(password),
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    record(
        session,
        "user.create",
        user_id=actor.id if actor else None,
        target=("user", user.id),
        is_admin=is_admin,
    )
    return user


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def authenticate(
    session: Session, *, email: str, password: str, client: str, devices: Mapping[int, str] | None = None
) -> User | None:
    """The user if the password is right, else None; refuses (429) while the attempt's key is locked.
    `devices`: the users this browser has signed in as before (its device cookie). Such a login counts
    against that device alone, so others' guesses at the account never lock its owner out; any other
    login counts against the account, and its failures against the client address too."""
    settings, now = get_settings(), utcnow()
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email[:320]))
    nonce = (devices or {}).get(user.id) if user is not None else None
    if nonce is not None and user is not None:
        key = throttle.device_key(user.id, nonce)
        throttle.reserve(session, key, limit=settings.login_max_failures, now=now, what="in this browser")
    else:
        address = throttle.address_key(client)
        throttle.refuse_if_locked(session, address, now=now, what="from your address")
        key = throttle.account_key(email)
        throttle.reserve(session, key, limit=settings.login_max_failures, now=now, what="for this account")
    right = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not user.is_active or not right:
        if nonce is None:
            limit = settings.login_max_failures_per_address
            throttle.count_failure(session, throttle.address_key(client), limit=limit, now=now)
        return None
    throttle.clear(session, key, now=now)
    user.last_login_at = now
    return user


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    """Change one's own password (Argon2), audited. A wrong current password counts, as a failed login
    does, against this user's own password-change count: a signed-in session is a known device, so the
    form is no way round the limit on guesses and is never locked by others' guesses at the account.
    The caller commits that count."""
    key, now = throttle.password_key(user.id), utcnow()
    limit = get_settings().login_max_failures
    throttle.reserve(session, key, limit=limit, now=now, what="at the current password")
    if not verify_password(user.password_hash, current):
        raise InvalidInput("the current password is wrong", field="current_password")
    throttle.clear(session, key, now=now)
    check_new_password(new)
    if new == current:
        raise InvalidInput("the new password is the current one; choose another", field="password")
    user.password_hash = hash_password(new)
    end_sessions(session, user)
    record(session, "user.password_change", user_id=user.id, target=("user", user.id))


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out of every browser session: a cookie issued before this is refused from now on.
    Counted in SQL, so two logouts at once both count. API tokens are not sessions; they stay."""
    user.session_generation = User.session_generation + 1
    session.flush()  # the new value is read back at once: the caller's own cookie takes it


def create_token(session: Session, *, user: User, name: str = "") -> tuple[ApiToken, str]:
    raw = new_api_token()
    token = ApiToken(user_id=user.id, name=name or "token", prefix=raw[:8], token_hash=hash_api_token(raw))
    session.add(token)
    session.flush()
    record(session, "token.create", user_id=user.id, target=("token", token.id))
    return token, raw


def revoke_token(session: Session, *, user: User, token_id: int) -> None:
    token = own(session.get(ApiToken, token_id), user, missing="no such token")
    if token.revoked_at is not None:
        raise NotFound("no such token")
    token.revoked_at = utcnow()
    record(session, "token.revoke", user_id=user.id, target=("token", token_id))


def user_for_token(session: Session, raw: str) -> User | None:
    """The active user behind a live token, in one query (this runs on every API request)."""
    row = session.execute(
        select(User, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_api_token(raw), ApiToken.revoked_at.is_(None), User.is_active)
    ).first()
    if row is None:
        return None
    user, token_id, last_used_at = row
    now = utcnow()
    # Last use to the minute, noted in memory and written by app/auth/token_use.py in a transaction of
    # its own: never in the request's, where the row lock would last as long as the request.
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        token_use.note(token_id, now)
    return user


def tokens_of(session: Session, user: User, *, newest_first: bool = False) -> list[ApiToken]:
    order = ApiToken.id.desc() if newest_first else ApiToken.id
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(order)))


def users_in_order(*, active_only: bool = False, by_email: bool = False) -> Select[User]:
    """Every user (or the active ones), by id or by e-mail: a statement, so lists can page over it."""
    stmt = select(User).order_by(User.email if by_email else User.id)
    return stmt.where(User.is_active) if active_only else stmt


def all_users(session: Session, *, active_only: bool = False, by_email: bool = False) -> list[User]:
    return list(session.scalars(users_in_order(active_only=active_only, by_email=by_email)))
