from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, utcnow


class Credential(IdMixin, CreatedMixin, Base):
    """An API key an administrator binds to the hosts it may be sent to; projects choose one by name. The
    key itself is never stored: `env_var` names the variable of the worker's environment that holds it."""

    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    env_var: Mapped[str] = mapped_column(String(100))
    hosts: Mapped[str] = mapped_column(String(2000))  # comma-separated, read as the allow-list is
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
