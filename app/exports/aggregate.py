"""From the annotations of one task to the judgements an export writes: pure functions, no database.

Preference-like kinds (pairwise, ranking, rating) reduce to votes on pairs of responses: each annotation
says, for a pair (x, y), x better (+1), y better (-1) or tie (0). Aggregation then works per pair, the
same way for every kind: majority, unanimous, every annotation, or the reviewed label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any

from app.exports.schemas import Aggregation


@dataclass(slots=True)
class Vote:
    """One annotation as an export sees it: its effective result (a reviewer's correction applied)."""

    annotation_id: int
    user_id: int
    result: dict[str, Any]
    reviewed: bool
    weight: float = 1.0  # the "quality" mode's trust in this annotator


@dataclass(slots=True)
class Outcome:
    sign: int  # +1: first of the pair better, -1: second better, 0: tie
    strength: float | None = None
    score_a: float | None = None
    score_b: float | None = None


@dataclass(slots=True)
class Pair:
    chosen: str
    rejected: str
    tie: bool
    agreement: float
    votes: int
    margin: float | None = None
    score_chosen: float | None = None
    score_rejected: float | None = None


Key = tuple[str, str]  # a pair of response ids, in the task's response order


class Dropped(Counter[str]):
    """Why rows were left out, counted by reason."""


def _ranking_groups(result: dict[str, Any]) -> list[list[str]]:
    return [[str(x) for x in item] if isinstance(item, list) else [str(item)] for item in result["ranking"]]


def _score(per: dict[str, Any], criterion: str | None) -> float:
    if criterion is not None:
        return float(per[criterion])
    return sum(float(v) for v in per.values()) / max(len(per), 1)


def outcomes(kind: str, agg: Aggregation, ids: Sequence[str], result: dict[str, Any]) -> dict[Key, Outcome]:
    """One annotation's verdict on every pair of the task's responses it speaks to."""
    found: dict[Key, Outcome] = {}
    if kind == "pairwise":
        if len(ids) < 2:
            return found
        a, b = ids[0], ids[1]
        choice = str(result["choice"])
        strength = result.get("strength")
        sign = 0 if choice == "tie" else (1 if choice == a else -1)
        found[(a, b)] = Outcome(sign, float(strength) if strength is not None else None)
    elif kind == "ranking":
        order = {rid: i for i, rid in enumerate(ids)}
        position = {rid: rank for rank, group in enumerate(_ranking_groups(result)) for rid in group}
        for a, b in combinations(sorted(position, key=order.__getitem__), 2):
            pa, pb = position[a], position[b]
            found[(a, b)] = Outcome(0 if pa == pb else (1 if pa < pb else -1))
    elif kind == "rating":
        order = {rid: i for i, rid in enumerate(ids)}
        scores = {str(rid): _score(per, agg.criterion) for rid, per in result["ratings"].items()}
        for a, b in combinations(sorted(scores, key=order.__getitem__), 2):
            gap = scores[a] - scores[b]
            sign = 0 if abs(gap) < agg.min_gap else (1 if gap > 0 else -1)
            found[(a, b)] = Outcome(sign, score_a=scores[a], score_b=scores[b])
    return found


def _adjacent(kind: str, voters: Sequence[Vote], ids: Sequence[str], agg: Aggregation) -> set[Key] | None:
    """Ranking with adjacent pairs: neighbours in the voters' mean order (Borda); None: every pair."""
    if kind != "ranking" or agg.pairs != "adjacent":
        return None
    order = {rid: i for i, rid in enumerate(ids)}
    total: Counter[str] = Counter()
    for vote in voters:
        for rank, group in enumerate(_ranking_groups(vote.result)):
            for rid in group:
                total[rid] += rank
    ranked = sorted(total, key=lambda rid: (total[rid], order[rid]))
    return {tuple(sorted((x, y), key=order.__getitem__)) for x, y in pairwise(ranked)}  # type: ignore[misc]


def decide(
    keys: Sequence[Hashable], agg: Aggregation, weights: Sequence[float] | None = None
) -> tuple[Hashable, float] | str:
    """The answer the voters settle on and the share behind it, or the reason there is none. With weights
    (the "quality" mode) the shares are of the total weight."""
    if weights is not None:
        totals: dict[Hashable, float] = {}
        for key, w in zip(keys, weights, strict=True):
            totals[key] = totals.get(key, 0.0) + w
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])
        whole = sum(totals.values())
        if whole <= 0:
            return "no trusted annotator"
        if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
            return "no majority"
        share = ranked[0][1] / whole
        return "below minimum agreement" if share < agg.min_agreement else (ranked[0][0], share)
    counts = Counter(keys).most_common()
    top, n_top = counts[0]
    if len(counts) > 1 and counts[1][1] == n_top:
        return "no majority"
    agreement = n_top / len(keys)
    if agg.mode == "unanimous" and len(counts) > 1:
        return "not unanimous"
    if agreement < agg.min_agreement:
        return "below minimum agreement"
    return top, agreement


def voters_of(votes: Sequence[Vote], agg: Aggregation) -> list[Vote] | str:
    """The votes an aggregate rests on, or why the task is left out."""
    voters = list(votes)
    if agg.mode == "reviewed" and any(v.reviewed for v in votes):
        voters = [v for v in votes if v.reviewed]
    elif len(voters) < agg.min_annotations:
        return "fewer annotations than the minimum"
    return voters


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _pair_of(key: Key, sign: int, picked: Sequence[Outcome], agreement: float, votes: int) -> Pair:
    """A decided pair, chosen first. Margin: the score gap (ratings), else the winners' mean strength
    (pairwise; a missing strength counts as the lowest step), else unknown; a tie's margin is 0."""
    a, b = key
    if sign < 0:
        a, b = b, a
    first = picked[0]
    if first.score_a is None and len(picked) == 1:  # the common case, kept cheap: one pairwise vote
        margin = first.strength if sign else (0.0 if first.strength is not None else None)
        return Pair(a, b, sign == 0, agreement, votes, margin)
    score_a, score_b = _mean([o.score_a for o in picked]), _mean([o.score_b for o in picked])
    if sign < 0:
        score_a, score_b = score_b, score_a
    margin = None
    if score_a is not None and score_b is not None:
        margin = score_a - score_b
    elif any(o.strength is not None for o in picked):
        margin = _mean([o.strength or 0.0 for o in picked])
    if sign == 0 and margin is not None:
        margin = 0.0
    return Pair(a, b, sign == 0, agreement, votes, margin, score_a, score_b)


def aggregate_pairs(
    kind: str, agg: Aggregation, ids: Sequence[str], votes: Sequence[Vote], dropped: Counter[str]
) -> list[Pair]:
    """The pairs of one task an export writes; what it leaves out is counted in `dropped`."""
    pairs: list[Pair] = []
    if agg.mode == "all":
        for vote in votes:
            keep = _adjacent(kind, [vote], ids, agg)
            for key, outcome in outcomes(kind, agg, ids, vote.result).items():
                if keep is None or key in keep:
                    pairs.append(_pair_of(key, outcome.sign, [outcome], 1.0, 1))
    else:
        voters = voters_of(votes, agg)
        if isinstance(voters, str):
            dropped[voters] += 1
            return []
        per_vote = [outcomes(kind, agg, ids, v.result) for v in voters]
        keep = _adjacent(kind, voters, ids, agg)
        keys = [k for k in per_vote[0] if keep is None or k in keep] if per_vote else []
        for key in keys:
            said = [found[key] for found in per_vote if key in found]
            weights = [v.weight for v, found in zip(voters, per_vote, strict=True) if key in found]
            verdict = decide([o.sign for o in said], agg, weights if agg.mode == "quality" else None)
            if isinstance(verdict, str):
                dropped[verdict] += 1
                continue
            sign, agreement = verdict
            assert isinstance(sign, int)
            picked = [o for o in said if o.sign == sign]
            pairs.append(_pair_of(key, sign, picked, agreement, len(said)))
    kept = [p for p in pairs if not p.tie or agg.ties == "keep"]
    if len(kept) < len(pairs):
        dropped["tie"] += len(pairs) - len(kept)
    return kept


def kto_labels(pairs: Sequence[Pair]) -> list[tuple[str, bool]]:
    """Desirable or not, per response: more wins than losses over the kept pairs (ties say nothing)."""
    score: Counter[str] = Counter()
    seen: list[str] = []
    for pair in pairs:
        if pair.tie:
            continue
        for rid in (pair.chosen, pair.rejected):
            if rid not in score:
                seen.append(rid)
        score[pair.chosen] += 1
        score[pair.rejected] -= 1
    return [(rid, score[rid] > 0) for rid in seen if score[rid] != 0]


def aggregate_labels(agg: Aggregation, votes: Sequence[Vote], dropped: Counter[str]) -> list[tuple[str, ...]]:
    """Classification: the label sets an export writes for one task."""
    if agg.mode == "all":
        return [tuple(sorted(v.result["labels"])) for v in votes]
    voters = voters_of(votes, agg)
    if isinstance(voters, str):
        dropped[voters] += 1
        return []
    verdict = decide(
        [tuple(sorted(v.result["labels"])) for v in voters],
        agg,
        [v.weight for v in voters] if agg.mode == "quality" else None,
    )
    if isinstance(verdict, str):
        dropped[verdict] += 1
        return []
    labels, _ = verdict
    assert isinstance(labels, tuple)
    return [labels]


def demonstrations(agg: Aggregation, votes: Sequence[Vote], dropped: Counter[str]) -> list[str]:
    """SFT: every demonstration, or the reviewed one (else the latest) per task."""
    if agg.mode == "all":
        return [str(v.result["response"]) for v in votes]
    voters = voters_of(votes, agg)
    if isinstance(voters, str):
        dropped[voters] += 1
        return []
    latest = max(voters, key=lambda v: v.annotation_id)
    return [str(latest.result["response"])]
