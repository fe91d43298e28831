"""What an annotation's `result` must look like: each kind says (app/kinds, DESIGN §10). Results always
name responses by id, never by screen position."""

from __future__ import annotations

from typing import Any

from app.kinds import get_kind
from app.kinds.base import fail
from app.models import Project, Task


def validate_result(project: Project, task: Task, result: Any) -> dict[str, Any]:
    """The result in canonical form, or InvalidInput saying what is wrong."""
    return check_result(project.kind, project.settings, task.responses, result)


def check_result(
    kind: str, settings: dict[str, Any], responses: list[dict[str, Any]], result: Any
) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise fail("must be an object")
    return get_kind(kind).validate_result(settings, [str(r["id"]) for r in responses], result)
