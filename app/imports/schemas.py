from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ImportAnswer(BaseModel):
    imported: int
    duplicates: int


class ImportQueued(BaseModel):
    """A file too large to import inside the request: a Job imports it (follow it at /api/v1/jobs/{id})."""

    job_id: int


class RowProblem(BaseModel):
    line: int
    message: str


class ImportRefused(BaseModel):
    """Bad rows: nothing was imported."""

    detail: str
    errors: list[RowProblem]
    error_count: int


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
