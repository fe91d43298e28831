"""What an annotation's `result` must look like: each kind says (app/kinds, DESIGN §10). Results always
name responses by id, never by screen position."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.kinds import get_kind
from app.kinds.base import fail
from app.kinds.turns import clean_turn_ratings
from app.models import Project, Task


def validate_result(project: Project, task: Task, result: Any) -> dict[str, Any]:
    """The result in canonical form, or InvalidInput saying what is wrong."""
    return check_result(
        project.kind, project.settings, task.responses, result, lambda: task.prompt, meta=lambda: task.meta
    )


def check_result(
    kind: str,
    settings: dict[str, Any],
    responses: list[dict[str, Any]],
    result: Any,
    prompt: Callable[[], Any],
    meta: Callable[[], dict[str, Any]] = lambda: {},
) -> dict[str, Any]:
    """The kind's answer, and the ratings of the prompt's turns where the project takes them (`prompt`
    reads the task's prompt, only for an answer that rates turns or a kind whose answers need it; `meta`
    the task's meta, for a kind whose answers call the task's tools)."""
    if not isinstance(result, dict):
        raise fail("must be an object")
    clean = get_kind(kind).validate_answer(settings, responses, result, prompt, meta=meta)
    return clean | clean_turn_ratings(settings, result, prompt)
