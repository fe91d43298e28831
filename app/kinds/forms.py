"""Reading answers typed into HTML forms. The kinds package never imports Starlette: a form is anything
with get/getlist/multi_items, which Starlette's FormData has."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from app.core.errors import InvalidInput

LETTERS = "ABCDEFGHIJKLMNOPQRST"  # how responses are named on screen, in the order they are shown


class FormFields(Protocol):
    def get(self, key: str, /) -> Any: ...
    def getlist(self, key: Any, /) -> list[Any]: ...
    def multi_items(self) -> Iterable[tuple[str, Any]]: ...


def text_of(form: FormFields, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_ranking(text: str, order: list[str]) -> list[str | list[str]]:
    """One syntax for a typed ranking, on every page: best first, separated by commas, spaces or '>',
    '=' joining a tie; each response named by its id or by the letter it is shown under ('BADC' works
    too). Completeness is checked by the kind's result validation."""
    by_letter = {LETTERS[i]: rid for i, rid in enumerate(order)}
    ids = {str(rid) for rid in order}
    groups = [g for g in re.split(r"[,>\s]+", text.strip()) if g]
    if len(groups) == 1 and groups[0] not in ids and "=" not in groups[0] and groups[0].isalpha():
        groups = list(groups[0])  # letters typed one after another

    def named(token: str) -> str:
        if token in ids:
            return token
        if token.upper() in by_letter:
            return by_letter[token.upper()]
        names = ", ".join(f"{LETTERS[i]} ({rid})" for i, rid in enumerate(order))
        raise InvalidInput(f"ranking: {token!r} names no response; the responses are {names}")

    ranking: list[str | list[str]] = []
    for group in groups:
        members = [named(t) for t in group.split("=") if t]
        if members:
            ranking.append(members if len(members) > 1 else members[0])
    return ranking
