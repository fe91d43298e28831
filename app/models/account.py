"""Account links an administrator hands over (invites, password resets) and the instance's own settings.
A link's token is never stored: only its SHA-256, as for API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, JSONType, utcnow


class Invite(IdMixin, CreatedMixin, Base):
    """A single-use, expiring link that lets its holder create an account (app/auth/invites.py)."""

    __tablename__ = "invites"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))  # the invite is bound to it when set
    is_admin: Mapped[bool] = mapped_column(default=False)
    project_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    project_role: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]


class PasswordReset(IdMixin, CreatedMixin, Base):
    """A single-use, expiring link an admin hands to a user to set a new password (app/auth/accounts.py)."""

    __tablename__ = "password_resets"

    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class InstanceSetting(Base):
    """One admin-editable setting of the whole instance (app/auth/instance.py names them)."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
