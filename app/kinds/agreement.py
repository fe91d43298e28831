"""Pure pieces the kinds share for agreement: the units answers are compared on, a ranking's positions, and a
pairwise answer as a signed ordinal.

A pairwise answer is compared both as a nominal choice (A, B or tie) and as a signed ordinal in the task's own
response order: +k means the first response is better by strength step k (1 = the lowest step), -k the
second, 0 a tie — so "A much better" and "A slightly better" are close, and far from "B much better"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

Unit = tuple[int, str]  # (task id, sub-unit: "" for the task, or a response/criterion/label)


def ranking_positions(result: dict[str, Any]) -> dict[str, int]:
    """Each response's position in a ranking (0 = best); tied responses share one."""
    return {
        str(rid): rank
        for rank, item in enumerate(result.get("ranking") or [])
        for rid in (item if isinstance(item, list) else [item])
    }


def signed_strength(result: dict[str, Any], response_ids: list[str]) -> int | None:
    """Pairwise as a signed ordinal in the task's response order; None for a malformed answer."""
    if len(response_ids) < 2:
        return None
    choice = result.get("choice")
    if choice == "tie":
        return 0
    step = int(result.get("strength") or 0) + 1
    if choice == response_ids[0]:
        return step
    if choice == response_ids[1]:
        return -step
    return None


def first_shown_choice(result: dict[str, Any], order: list[str]) -> bool | None:
    """Pairwise: did the annotator choose the response shown first (left)? None for a tie."""
    choice = result.get("choice")
    if choice == "tie" or not order:
        return None
    return str(choice) == str(order[0])


def split_share(keys: Iterable[str]) -> float:
    """1 - the share of the most common of these answers: 0 when everyone agrees."""
    counts = Counter(keys)
    total = sum(counts.values())
    return 1 - max(counts.values()) / total if total else 0.0
