"""What an annotation's `result` must look like, per project kind (DESIGN §10). Results always name
responses by id, never by screen position."""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidInput
from app.models import Project, ProjectKind, Task

MAX_TEXT = 100_000


def _fail(message: str) -> InvalidInput:
    return InvalidInput(f"result: {message}")


def _pairwise(settings: dict[str, Any], ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
    if len(ids) < 2:
        raise _fail("a pairwise task needs two responses")
    allowed = set(ids) | ({"tie"} if settings.get("allow_ties", True) else set())
    choice = result.get("choice")
    if choice not in allowed:
        raise _fail(f"choice must be one of {sorted(allowed)}")
    clean: dict[str, Any] = {"choice": choice}
    strength = result.get("strength")
    if strength is not None:
        scale = settings.get("strength_scale") or []
        if (
            not isinstance(strength, int)
            or isinstance(strength, bool)
            or not 0 <= strength < max(len(scale), 1)
        ):
            raise _fail(f"strength must be an integer from 0 to {max(len(scale) - 1, 0)}")
        clean["strength"] = strength
    criteria = result.get("criteria") or {}
    if not isinstance(criteria, dict):
        raise _fail("criteria must map a criterion to a response id or 'tie'")
    known = set(settings.get("criteria") or [])
    for name, value in criteria.items():
        if name not in known:
            raise _fail(f"unknown criterion {name!r}; the project's are {sorted(known)}")
        if value not in allowed:
            raise _fail(f"criterion {name!r} must be one of {sorted(allowed)}")
    if criteria:
        clean["criteria"] = dict(criteria)
    rationale = result.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        raise _fail("rationale must be text")
    if settings.get("rationale") == "required" and not (rationale or "").strip():
        raise _fail("this project asks for a rationale")
    if rationale and rationale.strip():
        clean["rationale"] = rationale.strip()[:MAX_TEXT]
    return clean


def _ranking(settings: dict[str, Any], ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
    ranking = result.get("ranking")
    if not isinstance(ranking, list) or not ranking:
        raise _fail("ranking must be a list of response ids, best first")
    flat: list[str] = []
    for item in ranking:
        if isinstance(item, list):  # a group of tied responses
            if not settings.get("allow_ties"):
                raise _fail("this project does not allow ties in a ranking")
            flat.extend(item)
        else:
            flat.append(item)
    if sorted(map(str, flat)) != sorted(ids) or len(set(flat)) != len(flat):
        raise _fail(f"ranking must name every response exactly once: {ids}")
    return {"ranking": ranking}


def _rating(settings: dict[str, Any], ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
    ratings = result.get("ratings")
    lo, hi = settings.get("scale_min", 1), settings.get("scale_max", 5)
    criteria = settings.get("criteria") or ["overall"]
    if not isinstance(ratings, dict) or sorted(ratings) != sorted(ids):
        raise _fail(f"ratings must rate every response: {ids}")
    for rid, per in ratings.items():
        if not isinstance(per, dict) or sorted(per) != sorted(criteria):
            raise _fail(f"response {rid} needs a rating for each criterion: {criteria}")
        for name, value in per.items():
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise _fail(f"rating of {rid} for {name} must be an integer from {lo} to {hi}")
    return {"ratings": ratings}


def _sft(settings: dict[str, Any], ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
    response = result.get("response")
    if not isinstance(response, str) or not response.strip():
        raise _fail("response must be the demonstration text")
    if len(response) > MAX_TEXT:
        raise _fail(f"response is longer than {MAX_TEXT} characters")
    return {"response": response}


def _classification(settings: dict[str, Any], ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
    labels = result.get("labels")
    known = settings.get("labels") or []
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise _fail("labels must be a non-empty list of labels")
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise _fail(f"unknown label(s) {unknown}; the project's are {known}")
    if len(set(labels)) != len(labels):
        raise _fail("a label is given twice")
    if not settings.get("multi_label") and len(labels) != 1:
        raise _fail("this project takes exactly one label")
    return {"labels": labels}


_BY_KIND = {
    ProjectKind.pairwise: _pairwise,
    ProjectKind.ranking: _ranking,
    ProjectKind.rating: _rating,
    ProjectKind.sft: _sft,
    ProjectKind.classification: _classification,
}


def validate_result(project: Project, task: Task, result: Any) -> dict[str, Any]:
    """The result in canonical form, or InvalidInput saying what is wrong."""
    return check_result(project.kind, project.settings, task.responses, result)


def check_result(
    kind: str, settings: dict[str, Any], responses: list[dict[str, Any]], result: Any
) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise _fail("must be an object")
    return _BY_KIND[ProjectKind(kind)](settings, [str(r["id"]) for r in responses], result)
