from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin


class PromptTemplate(IdMixin, CreatedMixin, Base):
    """A project's prompt for one pre-labeling mode. Edits add a version; suggestions name the version."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("project_id", "mode", "version"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20))  # generate | label | judge | draft
    version: Mapped[int]
    system: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))


class LlmCacheEntry(CreatedMixin, Base):
    """A model's answer to one exact request: (endpoint, model, rendered prompt, params) hashed. A re-run
    of the same request costs nothing."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
