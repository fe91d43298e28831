"""Instance settings: what an administrator may change for the whole instance at runtime, stored in the
instance_settings table (one row per key; a key without a row has its default here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.models import InstanceSetting, User

# key -> default. Off by default: only administrators create projects.
DEFAULTS: dict[str, Any] = {"non_admins_create_projects": False}


def read_all(session: Session) -> dict[str, Any]:
    values = dict(DEFAULTS)
    for row in session.scalars(select(InstanceSetting).where(InstanceSetting.key.in_(list(DEFAULTS)))):
        values[row.key] = row.value
    return values


def read(session: Session, key: str) -> Any:
    row = session.get(InstanceSetting, key)
    return DEFAULTS[key] if row is None else row.value


def update(session: Session, *, changes: dict[str, Any], actor: User) -> dict[str, Any]:
    """Store the given keys (unknown ones are the caller's bug: schemas name the keys), audited with
    their old and new values."""
    before = read_all(session)
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise KeyError(key)
        row = session.get(InstanceSetting, key)
        if row is None:
            session.add(InstanceSetting(key=key, value=value, updated_by_id=actor.id))
        else:
            row.value, row.updated_by_id = value, actor.id
    session.flush()
    changed = {k: {"from": before[k], "to": v} for k, v in changes.items() if before[k] != v}
    if changed:
        record(
            session,
            "instance_settings.update",
            user_id=actor.id,
            target=("instance", "settings"),
            changes=changed,
        )
    return read_all(session)
