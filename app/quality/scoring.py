"""How two answers to one task compare: the canonical key of an answer (for agreement and majority), its
ordinal codes (for Krippendorff's ordinal alpha), and its score against a gold answer. Pure functions.

A pairwise answer is compared both as a nominal choice (A, B or tie) and as a signed ordinal in the
task's own response order: +k means the first response is better by strength step k (1 = the lowest
step), -k the second, 0 a tie — so "A much better" and "A slightly better" are close, and far from
"B much better"."""

from __future__ import annotations

from itertools import combinations
from typing import Any

Unit = tuple[int, str]  # (task id, sub-unit: "" for the task, or a response/criterion/label)


def ranking_positions(result: dict[str, Any]) -> dict[str, int]:
    return {
        str(rid): rank
        for rank, item in enumerate(result.get("ranking") or [])
        for rid in (item if isinstance(item, list) else [item])
    }


def nominal_key(kind: str, result: dict[str, Any]) -> str:
    """What two annotators must both say to agree (strength and rationale aside)."""
    if kind == "pairwise":
        return str(result.get("choice"))
    if kind == "classification":
        return "|".join(sorted(result.get("labels") or []))
    if kind == "ranking":
        groups = result.get("ranking") or []
        return ">".join(",".join(sorted(map(str, g))) if isinstance(g, list) else str(g) for g in groups)
    if kind == "rating":
        ratings = result.get("ratings") or {}
        return ";".join(f"{rid}:{','.join(f'{c}={v}' for c, v in sorted(per.items()))}"
                        for rid, per in sorted(ratings.items()))  # fmt: skip
    return ""  # sft: free text has no nominal agreement


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


def ordinal_units(
    kind: str, task_id: int, result: dict[str, Any], response_ids: list[str]
) -> dict[Unit, float]:
    """Units and ordinal values of one answer: pairwise one unit (the signed strength), ranking one unit per
    response (its position), rating one per response and criterion (the score)."""
    if kind == "pairwise":
        value = signed_strength(result, response_ids)
        return {} if value is None else {(task_id, ""): float(value)}
    if kind == "ranking":
        return {(task_id, rid): float(pos) for rid, pos in ranking_positions(result).items()}
    if kind == "rating":
        return {
            (task_id, f"{rid}/{criterion}"): float(value)
            for rid, per in (result.get("ratings") or {}).items()
            for criterion, value in per.items()
        }
    return {}


def nominal_units(kind: str, task_id: int, result: dict[str, Any], labels: list[str]) -> dict[Unit, str]:
    """Units and nominal values: one per task, except multi-label classification (one yes/no per label)."""
    if kind == "classification" and len(result.get("labels") or []) != 1 and labels:
        chosen = set(result.get("labels") or [])
        return {(task_id, label): ("yes" if label in chosen else "no") for label in labels}
    if kind == "sft":
        return {}
    return {(task_id, ""): nominal_key(kind, result)}


def gold_score(kind: str, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
    """1.0 for the gold answer, 0.0 for a wrong one, partial credit where the kind has degrees (ranking:
    share of pairs in gold's order; rating: closeness on the scale). None when gold does not apply."""
    if not isinstance(gold, dict):
        return None
    if kind in ("pairwise", "classification"):
        return 1.0 if nominal_key(kind, result) == nominal_key(kind, gold) else 0.0
    if kind == "ranking":
        mine, want = ranking_positions(result), ranking_positions(gold)
        pairs = [(a, b) for a, b in combinations(sorted(want), 2) if want[a] != want[b]]
        if not pairs:
            return None
        agree = sum(1 for a, b in pairs if (mine.get(a, 0) - mine.get(b, 0)) * (want[a] - want[b]) > 0)
        return agree / len(pairs)
    if kind == "rating":
        lo, hi = float(settings.get("scale_min", 1)), float(settings.get("scale_max", 5))
        mine_r, want_r = result.get("ratings") or {}, gold.get("ratings") or {}
        gaps = [abs(float(mine_r[rid][c]) - float(v)) for rid, per in want_r.items() for c, v in per.items()
                if rid in mine_r and c in mine_r[rid]]  # fmt: skip
        return 1.0 - sum(gaps) / len(gaps) / max(hi - lo, 1.0) if gaps else None
    return None


def first_shown_choice(result: dict[str, Any], order: list[str]) -> bool | None:
    """Pairwise: did the annotator choose the response shown first (left)? None for a tie."""
    choice = result.get("choice")
    if choice == "tie" or not order:
        return None
    return str(choice) == str(order[0])
