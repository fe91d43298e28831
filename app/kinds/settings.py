"""Settings every kind shares. A kind's own settings model extends one of these (in its module); every
setting has a default, so {name, kind} alone creates a working project."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CommonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(1, ge=1, le=50, description="annotations wanted per task")
    lease_minutes: int = Field(10, ge=1, le=24 * 60)
    show_suggestions: bool = True
    gold_rate: float = Field(0.0, ge=0, le=1, description="share of claims that serve a gold task")
    # quality
    reveal_annotators: bool = Field(False, description="reviewers see annotators' names, not pseudonyms")
    min_seconds_per_task: float = Field(2.0, ge=0, le=3600, description="faster answers are flagged")
    auto_pause: bool = Field(False, description="pause annotators whose gold accuracy falls too low")
    gold_min_accuracy: float = Field(0.6, ge=0, le=1)
    gold_min_answers: int = Field(5, ge=1, le=1000, description="gold answers before accuracy counts")


class ComparedSettings(CommonSettings):
    """Kinds whose tasks compare responses: a reward model can score them and order the queue."""

    queue_order: Literal["priority", "margin", "disagreement", "random"] = Field(
        "priority", description="which open task the queue serves first (app/loop/priority.py)"
    )


def distinct(values: list[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values if v.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"{what} must be distinct")
    return cleaned


# Form fields every kind's settings form shows, before the kind's own (Kind.settings_fields).
COMMON_FIELDS = ("overlap", "lease_minutes", "show_suggestions")
QUALITY_FIELDS = ("gold_rate", "gold_min_accuracy", "gold_min_answers", "auto_pause", "min_seconds_per_task",
                  "reveal_annotators")  # fmt: skip
