from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.db import DbId
from app.imports.schemas import TaskRead

FLAG_REASONS = ("unclear", "harmful", "broken", "other")


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    expires_at: datetime
    order: list[str] = Field(description="response ids in the order they are shown")


class NextTask(BaseModel):
    assignment: AssignmentRead
    task: TaskRead


class AnnotationPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: DbId
    result: dict[str, Any]
    lead_time_ms: int | None = Field(None, ge=0, le=7 * 24 * 3600 * 1000)
    assignment_id: DbId | None = None


class AnnotationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: dict[str, Any]
    lead_time_ms: int | None = Field(None, ge=0, le=7 * 24 * 3600 * 1000)


class AnnotationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uuid: str
    task_id: int
    project_id: int
    user_id: int
    assignment_id: int | None
    result: dict[str, Any]
    lead_time_ms: int | None
    status: str
    created_at: datetime
    updated_at: datetime


class SkipBody(BaseModel):
    reason: str | None = Field(None, max_length=500)


class FlagCreate(BaseModel):
    reason: Literal["unclear", "harmful", "broken", "other"]
    comment: str = Field("", max_length=5000)


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    user_id: int | None
    reason: str
    comment: str
    created_at: datetime
    resolved_at: datetime | None
