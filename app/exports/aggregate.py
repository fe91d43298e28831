"""Reading one answer as verdicts on pairs of responses, for the rest of Preflab (the leaderboard, the
rounds). How answers combine lives with the kinds (app.kinds.votes and each kind's export section)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.exports.schemas import Aggregation
from app.kinds import get_kind
from app.kinds.votes import Key, Outcome


def outcomes(kind: str, agg: Aggregation, ids: Sequence[str], result: dict[str, Any]) -> dict[Key, Outcome]:
    """One answer's verdict on every pair of the task's responses it speaks to (kind: the project's)."""
    return get_kind(kind).pair_outcomes(ids, result, agg)
