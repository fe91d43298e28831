from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["accept", "reject", "correct"]
    result: dict[str, Any] | None = None
    comment: str | None = Field(None, max_length=5000)


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    annotation_id: int
    reviewer_id: int
    verdict: str
    result: dict[str, Any] | None
    comment: str | None
    created_at: datetime


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gold: dict[str, Any] | None = Field(description="the expected result, or null to unmark the task")


class QueueItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    task_id: int
    disagreement: float
    gold_miss: float
    pending: int
    answers: int
    oldest: datetime


class QueuePage(BaseModel):
    items: list[QueueItemRead]
    next_offset: int | None
