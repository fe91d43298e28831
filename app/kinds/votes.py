"""Answers as votes on pairs of a task's responses: for a pair (x, y), in the task's response order, +1 when
x is better, -1 when y is, 0 for a tie. The leaderboard's games and the rounds' agreement figures count
these; an export aggregates the same verdicts with its own options (app/exports/aggregate.py)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

PairVotes = dict[tuple[str, str], int]

# Two responses whose mean ratings differ by less than this are a tie: the exports' default `min_gap`.
RATING_TIE_GAP = 1.0


def choice_votes(ids: Sequence[str], result: dict[str, Any]) -> PairVotes:
    """A pairwise answer: the first two responses, the chosen one better (or a tie)."""
    if len(ids) < 2:
        return {}
    a, b = ids[0], ids[1]
    choice = str(result["choice"])
    return {(a, b): 0 if choice == "tie" else (1 if choice == a else -1)}


def ranking_votes(ids: Sequence[str], result: dict[str, Any]) -> PairVotes:
    """A ranking: every pair, the higher-placed response better; a tied group ties its members."""
    order = {rid: i for i, rid in enumerate(ids)}
    position = {
        str(rid): rank
        for rank, item in enumerate(result["ranking"])
        for rid in (item if isinstance(item, list) else [item])
    }
    return {
        (a, b): 0 if position[a] == position[b] else (1 if position[a] < position[b] else -1)
        for a, b in combinations(sorted(position, key=order.__getitem__), 2)
    }


def rating_votes(ids: Sequence[str], result: dict[str, Any]) -> PairVotes:
    """Ratings: every pair, the response with the higher mean rating (over the criteria) better."""
    order = {rid: i for i, rid in enumerate(ids)}
    means = {
        str(rid): sum(float(v) for v in per.values()) / max(len(per), 1)
        for rid, per in result["ratings"].items()
    }
    votes: PairVotes = {}
    for a, b in combinations(sorted(means, key=order.__getitem__), 2):
        gap = means[a] - means[b]
        votes[(a, b)] = 0 if abs(gap) < RATING_TIE_GAP else (1 if gap > 0 else -1)
    return votes
