"""Games between models: a vote on a pair of responses, read as a comparison of the models that wrote them
(the leaderboard, app/loop/leaderboard.py, fits its strengths to them; app/quality/task_figures.py keeps
each task's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Game:
    a: str  # model names
    b: str
    outcome: int  # +1 a won, -1 b won, 0 tie


def games_of(responses: list[dict[str, Any]], votes: Mapping[tuple[str, str], int]) -> Iterable[Game]:
    """Pair votes (response ids) as games between the models that wrote the responses."""
    model_of = {str(r["id"]): r.get("model") for r in responses}
    for (x, y), outcome in votes.items():
        mx, my = model_of.get(x), model_of.get(y)
        if mx and my and mx != my:
            yield Game(str(mx), str(my), outcome)


def response_ids(responses: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in responses]
