"""The grid's filter as the page's form fields and query string carry it, to and from TaskFilter.

Fields: status (repeated), min_annotations, max_annotations, min_agreement and max_agreement (percent),
suggestion, gold and flagged ("yes", "no" or empty: either), meta ("key=value" pairs, comma-separated), q
(text in the prompt) and sort."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from app.core.errors import InvalidInput
from app.datamanager.schemas import SORTS, TaskFilter

FIELDS = ("min_annotations", "max_annotations", "min_agreement", "max_agreement", "suggestion", "gold",
          "flagged", "meta", "q", "sort")  # fmt: skip
_YES_NO = {"yes": True, "no": False, "": None}


def problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'filter'}: {e['msg']}" for e in exc.errors())


def parse_meta(text: str) -> dict[str, str]:
    """ "source=web, lang=en" → {"source": "web", "lang": "en"}."""
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"meta: write key=value, not {part!r}", field="meta")
        pairs[key.strip()] = value.strip()
    return pairs


def _percent(value: str, name: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value) / 100
    except ValueError:
        raise InvalidInput(f"{name}: a percentage from 0 to 100", field=name) from None


def _number(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput(f"{name}: a whole number", field=name)
    return int(value)


def _choice(value: str, name: str) -> bool | None:
    if value not in _YES_NO:
        raise InvalidInput(f"{name}: yes, no or empty", field=name)
    return _YES_NO[value]


def from_fields(fields: Mapping[str, Sequence[str]]) -> tuple[TaskFilter, str]:
    """(the filter, the sort) from form fields or a query string, each field's values in a list."""
    one = {name: (fields.get(name) or [""])[0] for name in FIELDS}
    sort = one["sort"] or "id"
    if sort not in SORTS:
        raise InvalidInput(f"sort: one of {', '.join(SORTS)}", field="sort")
    try:
        wanted = TaskFilter(
            status=[s for s in fields.get("status") or [] if s],
            min_annotations=_number(one["min_annotations"], "min_annotations"),
            max_annotations=_number(one["max_annotations"], "max_annotations"),
            min_agreement=_percent(one["min_agreement"], "min_agreement"),
            max_agreement=_percent(one["max_agreement"], "max_agreement"),
            has_suggestion=_choice(one["suggestion"], "suggestion"),
            gold=_choice(one["gold"], "gold"),
            flagged=_choice(one["flagged"], "flagged"),
            meta=parse_meta(one["meta"]),
            q=one["q"] or None,
        )
    except ValidationError as exc:
        raise InvalidInput(f"the filter is not valid: {problems(exc)}") from None
    return wanted, sort


def to_fields(wanted: TaskFilter, sort: str) -> dict[str, Any]:
    """The form's values for a filter (what from_fields reads back)."""

    def yes_no(value: bool | None) -> str:
        return "" if value is None else "yes" if value else "no"

    def percent(value: float | None) -> str:
        return "" if value is None else f"{value * 100:g}"

    return {
        "status": list(wanted.status),
        "min_annotations": "" if wanted.min_annotations is None else str(wanted.min_annotations),
        "max_annotations": "" if wanted.max_annotations is None else str(wanted.max_annotations),
        "min_agreement": percent(wanted.min_agreement),
        "max_agreement": percent(wanted.max_agreement),
        "suggestion": yes_no(wanted.has_suggestion),
        "gold": yes_no(wanted.gold),
        "flagged": yes_no(wanted.flagged),
        "meta": ", ".join(f"{k}={v}" for k, v in wanted.meta.items()),
        "q": wanted.q or "",
        "sort": sort,
    }


def query_string(wanted: TaskFilter, sort: str, **extra: str) -> str:
    """The filter as a query string, empty fields left out (links to the next page and to a task)."""
    values = to_fields(wanted, sort)
    pairs = [("status", s) for s in values.pop("status")]
    pairs += [(k, v) for k, v in values.items() if v and not (k == "sort" and v == "id")]
    pairs += [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


def is_filtered(wanted: TaskFilter) -> bool:
    return wanted != TaskFilter()
