from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    progress: float
    progress_message: str
    error: str | None
    result: dict[str, Any]
    project_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MetricPoint(BaseModel):
    step: int
    name: str
    value: float


class JobAccepted(BaseModel):
    job_id: int
