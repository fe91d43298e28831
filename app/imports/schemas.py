from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ImportAnswer(BaseModel):
    imported: int
    duplicates: int


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    external_id: str | None
    prompt: Any
    responses: list[dict[str, Any]]
    meta: dict[str, Any]
    priority: int
    status: str
    annotation_count: int
    created_at: datetime
