"""@mentions: `@ada` names the member whose e-mail starts `ada@` or whose name is Ada; `@ada.lovelace`
and `@AdaLovelace` both name "Ada Lovelace" (case, spaces, dots, dashes and underscores are ignored)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Member, User

MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][\w.\-]*)")
_IGNORED = re.compile(r"[\s._\-]+")


def _key(text: str) -> str:
    return _IGNORED.sub("", text.lower())


def mentioned_keys(body: str) -> set[str]:
    return {_key(m.rstrip(".-")) for m in MENTION.findall(body)} - {""}


def display_name(user: User) -> str:
    return user.name or user.email.split("@", 1)[0]


def mentioned_members(session: Session, *, project_id: int, body: str) -> list[User]:
    """The project's members a body mentions; a name that is no member's mentions nobody (admins who are
    not members included: they are told nothing of a project they do not belong to)."""
    keys = mentioned_keys(body)
    if not keys:
        return []
    members = session.scalars(
        select(User).join(Member, Member.user_id == User.id).where(Member.project_id == project_id)
    )
    return [
        u
        for u in members
        if u.is_active and ({_key(u.email.split("@", 1)[0]), _key(u.name or "")} - {""}) & keys
    ]
