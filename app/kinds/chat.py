"""Chat: annotators hold live conversations with the project's models (app/chat). For each user message
the worker asks two models (the `models` round-robin, or one model at two temperatures) for a reply; the
annotator picks the better one (with strength), may rewrite it, and the conversation continues from it.
Each picked turn becomes a pairwise task of the project whose prompt is the conversation so far, so every
export, agreement figure and the leaderboard read a chat project as a pairwise one; its tasks are shown
and reviewed with the pairwise page parts."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from app.core.errors import NotFound
from app.kinds.pairwise import Pairwise, PairwiseSettings
from app.kinds.settings import distinct


class ChatSettings(PairwiseSettings):
    kind: Literal["chat"] = "chat"  # type: ignore[assignment]
    edits: Literal["off", "optional", "required_if_neither_good"] = "optional"
    models: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="the models asked for each reply, two at a time, round-robin; empty: the endpoint's "
        "model at two temperatures",
    )
    temperatures: list[float] = Field(
        default_factory=lambda: [0.3, 1.0], min_length=2, max_length=2,
        description="the two candidates' sampling temperatures",
    )  # fmt: skip
    system_prompt: str = Field("", max_length=20_000, description="each new conversation's system message")
    max_reply_tokens: int = Field(512, ge=1, le=32_000)
    turn_timeout_s: int = Field(60, ge=5, le=600, description="a candidate not done by then is stopped")
    max_user_chars: int = Field(8_000, ge=1, le=100_000)
    max_turns: int = Field(30, ge=1, le=200, description="turns in one conversation")
    max_cost: float = Field(
        0.0, ge=0, description="stop taking turns once the chats cost this much; 0: no cap"
    )

    _models = field_validator("models")(lambda v: distinct(v, "models"))

    @model_validator(mode="after")
    def _temperatures_in_range(self) -> ChatSettings:
        if any(not 0 <= t <= 2 for t in self.temperatures):
            raise ValueError("temperatures must be between 0 and 2")
        return self


class Chat(Pairwise):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "chat"
    label = "Live chat (a pairwise task per turn)"
    settings_model = ChatSettings
    settings_fields: ClassVar[tuple[str, ...]] = (
        *Pairwise.settings_fields, "models", "temperatures", "system_prompt", "max_reply_tokens",
        "turn_timeout_s", "max_user_chars", "max_turns", "max_cost",
    )  # fmt: skip

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    live_chat: ClassVar[bool] = True

    @property
    def page_kind(self) -> str:
        return "pairwise"

    def candidate_slots(
        self, settings: dict[str, Any], endpoint_model: str, turn: int
    ) -> list[dict[str, Any]]:
        """Who answers turn number `turn` (from 0): two models round-robin, or one at two temperatures."""
        models = list(settings.get("models") or [])
        temps = list(settings.get("temperatures") or [0.3, 1.0])
        if len(models) >= 2:
            first = (2 * turn) % len(models)
            pair = [models[first], models[(first + 1) % len(models)]]
            return [{"model": m, "temperature": temps[i]} for i, m in enumerate(pair)]
        model = models[0] if models else endpoint_model
        return [{"model": model, "temperature": t} for t in temps]


def chat_kind(project: Any) -> Chat:
    """A chat project's kind; NotFound for a project of another kind (it holds no live chats)."""
    from app.kinds import kind_of

    kind = kind_of(project)
    if not isinstance(kind, Chat):
        raise NotFound("this project holds no live chats")
    return kind
