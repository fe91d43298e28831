"""How far a reviewer's answer is from the suggestion it started from, and what that makes its origin.

- text (draft): Levenshtein distance on characters; changed text is `suggestion_edited`, or
  `suggestion_replaced` when the reviewer rejected the draft and wrote their own.
- a label set: the size of the symmetric difference (0 when equal); overlapping sets are edited,
  disjoint ones (every single-label change) replaced.
- a judge's choice: 0 when the same response, else 1 and replaced; a ranking: the number of pairs
  ordered the other way (Kendall tau distance)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

ACCEPTED, EDITED, REPLACED = "suggestion_accepted", "suggestion_edited", "suggestion_replaced"


def levenshtein(a: str, b: str) -> int:
    """Edit distance in O(len(a) * len(b) / word) with Myers' bit-parallel algorithm (Hyyrö's form), so
    long drafts cost milliseconds in pure Python."""
    if a == b:
        return 0
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    a, b = a[start:], b[start:]
    while a and b and a[-1] == b[-1]:
        a, b = a[:-1], b[:-1]
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    full = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, score = full, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = (ph << 1) | 1
        mh = mh << 1
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv & full
    return score


def _discordant(x: list[str], y: list[str]) -> int:
    pos = {rid: i for i, rid in enumerate(y)}
    return sum(1 for p, q in combinations(x, 2) if p in pos and q in pos and pos[p] > pos[q])


def _flat(ranking: list[Any]) -> list[str]:
    out: list[str] = []
    for entry in ranking:
        out.extend(map(str, entry) if isinstance(entry, list) else [str(entry)])
    return out


def compare(
    kind: str, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
) -> tuple[str, int]:
    """(origin, edit distance) of a reviewer's `result` against the suggestion's."""
    if kind == "sft":
        before, after = str(suggestion.get("response", "")), str(result.get("response", ""))
        distance = levenshtein(before, after)
        if distance == 0:
            return ACCEPTED, 0
        return (REPLACED if rejected else EDITED), distance
    if kind == "classification":
        before_set, after_set = set(suggestion.get("labels") or []), set(result.get("labels") or [])
        distance = len(before_set ^ after_set)
        if distance == 0:
            return ACCEPTED, 0
        return (EDITED if before_set & after_set and not rejected else REPLACED), distance
    if kind == "ranking" and suggestion.get("ranking"):
        distance = _discordant(_flat(suggestion["ranking"]), _flat(result.get("ranking") or []))
        return (ACCEPTED, 0) if distance == 0 else (REPLACED, distance)
    same = suggestion.get("choice") == result.get("choice")
    return (ACCEPTED, 0) if same else (REPLACED, 1)
