"""Measures of how far a reviewer's answer is from the suggestion it started from, and the origins an
answer made from a suggestion takes. Each kind's `review_origin` picks its measure:

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


def discordant_pairs(x: list[str], y: list[str]) -> int:
    """Pairs of responses the two orders put the other way round (Kendall tau distance)."""
    pos = {rid: i for i, rid in enumerate(y)}
    return sum(1 for p, q in combinations(x, 2) if p in pos and q in pos and pos[p] > pos[q])


def flat_ranking(ranking: list[Any]) -> list[str]:
    """A ranking's response ids best first, tied groups opened in place."""
    out: list[str] = []
    for entry in ranking:
        out.extend(map(str, entry) if isinstance(entry, list) else [str(entry)])
    return out


def choice_origin(suggestion: dict[str, Any], result: dict[str, Any]) -> tuple[str, int]:
    """A judge's choice against the reviewer's: kept, or replaced at distance 1."""
    return (ACCEPTED, 0) if suggestion.get("choice") == result.get("choice") else (REPLACED, 1)
