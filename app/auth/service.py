"""Users, API tokens and login checks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.policies import own
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from app.core.security import hash_api_token, hash_password, new_api_token, verify_password
from app.models import ApiToken, LoginAttempt, User, utcnow

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
    _check_new_password(password)
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


def _check_new_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def _refuse_past_failure_limit(session: Session, *, email: str, client: str) -> None:
    settings = get_settings()
    since = utcnow() - timedelta(seconds=settings.login_window_s)
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.created_at >= since, or_(LoginAttempt.email == email, LoginAttempt.client == client)
        )
    )
    if (failures or 0) >= settings.login_max_failures:
        raise TooManyRequests("too many failed logins; wait a few minutes and try again")


def authenticate(session: Session, *, email: str, password: str, client: str) -> User | None:
    """The user if the password is right; counts failures and refuses (429) past the limit."""
    email = email.strip().lower()
    _refuse_past_failure_limit(session, email=email, client=client)
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        if user is None:
            verify_password(None, password)
        session.add(LoginAttempt(email=email, client=client))
        session.flush()
        return None
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    user.last_login_at = utcnow()
    return user


def change_password(session: Session, *, user: User, current: str, new: str, client: str) -> None:
    """Change one's own password (Argon2), audited. A wrong current password counts as a failed login,
    so this form is no way round the login's limit on guesses; the caller commits that count."""
    _refuse_past_failure_limit(session, email=user.email, client=client)
    if not verify_password(user.password_hash, current):
        session.add(LoginAttempt(email=user.email, client=client))
        session.flush()
        raise InvalidInput("the current password is wrong", field="current_password")
    _check_new_password(new)
    if new == current:
        raise InvalidInput("the new password is the current one; choose another", field="password")
    user.password_hash = hash_password(new)
    record(session, "user.password_change", user_id=user.id, target=("user", user.id))


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
    # Write last-used at most once a minute: a busy script should not turn every read into a write.
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
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
