from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, CreatedMixin, IdMixin, JSONType


class Conversation(IdMixin, CreatedMixin, Base):
    """A live chat an annotator holds with a chat project's models (app/chat): a tree of turns, continued
    from its head; each picked turn is a pairwise task of the project."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_project_user", "project_id", "user_id", "id"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    system_prompt: Mapped[str | None] = mapped_column(Text)
    head_turn_id: Mapped[int | None] = mapped_column(BigIntPK)  # the turn the next user message follows
    updated_at: Mapped[datetime | None]


class ChatTurn(IdMixin, CreatedMixin, Base):
    """One user message and the candidate replies the models gave to it. `messages` is the conversation up
    to and with the user message (the pairwise task's prompt); `candidates` are written by the generating
    job as they stream in: [{id, model, temperature, text, status, error, tokens_in, tokens_out, cost,
    latency_ms}]; `order` is how they are shown (shuffled, anonymized). Once picked, `task_id` is the task
    it became and `reply` the assistant text the conversation continues with (the chosen one, or its
    rewrite)."""

    __tablename__ = "chat_turns"

    conversation_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("chat_turns.id", ondelete="CASCADE"))
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # the client's: a second send is the same turn
    depth: Mapped[int] = mapped_column(default=1)
    user_text: Mapped[str] = mapped_column(Text)
    messages: Mapped[Any] = mapped_column(JSONType)
    candidates: Mapped[Any] = mapped_column(JSONType)
    order: Mapped[Any] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="generating")  # generating|ready|picked
    job_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("jobs.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("tasks.id", ondelete="SET NULL"))
    chosen: Mapped[str | None] = mapped_column(String(20))  # the candidate id the conversation continued from
    reply: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[float] = mapped_column(Float, default=0.0)  # what its candidates cost (the project's prices)
