"""Invite links: an administrator creates one (optionally bound to an e-mail, as an admin or not, and
optionally joining a project with a role), hands the single-use, expiring link over, and its holder
chooses a name and password and is signed in. Only the token's SHA-256 is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.auth.accounts import LINK_GONE, link_url, new_link_token
from app.auth.audit import record
from app.auth.service import check_new_password, create_user
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_api_token
from app.models import Invite, Member, Project, Role, User, utcnow


@dataclass
class InviteRequest:
    email: str | None = None
    is_admin: bool = False
    project_id: int | None = None
    project_role: str | None = None


def create_invite(session: Session, *, data: InviteRequest, actor: User) -> tuple[Invite, str]:
    """The invite and its link (shown once)."""
    email = (data.email or "").strip().lower() or None
    if email is not None:
        if "@" not in email or len(email) > 320:
            raise InvalidInput(f"'{email}' is not an e-mail address", field="email")
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"a user with e-mail {email} already exists")
    role = data.project_role or None
    if data.project_id is not None:
        if session.get(Project, data.project_id) is None:
            raise NotFound(f"project {data.project_id} not found")
        role = role or Role.annotator.name
        if role not in Role.__members__:
            raise InvalidInput(f"role must be one of {', '.join(Role.__members__)}", field="project_role")
    elif role is not None:
        raise InvalidInput("a project role needs a project", field="project_role")
    token = new_link_token()
    invite = Invite(
        token_hash=hash_api_token(token),
        email=email,
        is_admin=data.is_admin,
        project_id=data.project_id,
        project_role=role,
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=get_settings().invite_days),
    )
    session.add(invite)
    session.flush()
    record(
        session,
        "invite.create",
        user_id=actor.id,
        target=("invite", invite.id),
        project_id=data.project_id,
        email=email,
        is_admin=data.is_admin,
        project_role=role,
    )
    return invite, link_url("invite", token)


def pending(session: Session) -> list[Invite]:
    """Invites not used, revoked or expired, newest first."""
    stmt = select(Invite).where(_open(utcnow())).order_by(Invite.id.desc())
    return list(session.scalars(stmt))


def revoke(session: Session, *, invite_id: int, actor: User) -> None:
    invite = session.get(Invite, invite_id)
    if invite is None or invite.used_at is not None or invite.revoked_at is not None:
        raise NotFound(f"no pending invite {invite_id}")
    invite.revoked_at = utcnow()
    record(session, "invite.revoke", user_id=actor.id, target=("invite", invite_id))


def _open(now: datetime) -> ColumnElement[bool]:
    return Invite.used_at.is_(None) & Invite.revoked_at.is_(None) & (Invite.expires_at > now)


def invite_for(session: Session, token: str) -> Invite:
    """The open invite behind `token`, or NotFound (one message for used, revoked, expired, unknown)."""
    invite = session.scalar(select(Invite).where(Invite.token_hash == hash_api_token(token), _open(utcnow())))
    if invite is None:
        raise NotFound(LINK_GONE)
    return invite


def project_name(session: Session, invite: Invite) -> str | None:
    project = session.get(Project, invite.project_id) if invite.project_id else None
    return project.name if project else None


def accept(
    session: Session, *, token: str, email: str, name: str, password: str, repeat: str
) -> tuple[User, int | None]:
    """Create the invitee's account (and membership); the user and the project they joined. Everything
    is checked first; then the invite is spent by one UPDATE that only an open invite matches, so two
    acceptances at once cannot both create an account, and a refused one writes nothing."""
    invite = invite_for(session, token)
    email = (invite.email or email).strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput(f"'{email}' is not an e-mail address", field="email")
    if not name.strip():
        raise InvalidInput("type your name", field="name")
    check_new_password(password)
    if password != repeat:
        raise InvalidInput("the two passwords differ; type the same one twice", field="password")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists; log in instead")
    spent = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, _open(utcnow()))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(LINK_GONE)
    user = create_user(session, email=email, password=password, name=name.strip(), is_admin=invite.is_admin)
    session.execute(update(Invite).where(Invite.id == invite.id).values(used_by_id=user.id))
    if invite.project_id is not None and invite.project_role:
        session.add(Member(project_id=invite.project_id, user_id=user.id, role=invite.project_role))
    record(
        session,
        "invite.accept",
        user_id=user.id,
        target=("invite", invite.id),
        project_id=invite.project_id,
        project_role=invite.project_role,
    )
    user.last_login_at = utcnow()
    session.flush()
    return user, invite.project_id if invite.project_role else None
