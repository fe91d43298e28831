"""Combining several annotators' answers into the judgements an export writes: pure functions, shared by
the kinds (each kind says what one answer means; this module decides what many answers add up to).

Kinds that compare responses reduce to votes on pairs of responses: each answer says, for a pair (x, y),
x better (+1), y better (-1) or tie (0). Aggregation then works per pair, the same way for every such
kind: majority, unanimous, every annotation, the reviewed label, or a majority weighted by trust."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class AggregationOptions(Protocol):
    """What an export asked for (app.exports.schemas.Aggregation has these fields)."""

    @property
    def mode(self) -> str: ...
    @property
    def min_annotations(self) -> int: ...
    @property
    def min_agreement(self) -> float: ...
    @property
    def ties(self) -> str: ...
    @property
    def pairs(self) -> str: ...
    @property
    def min_gap(self) -> float: ...
    @property
    def criterion(self) -> str | None: ...
    @property
    def sft_style(self) -> str: ...
    @property
    def edit_pairs(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DefaultOptions:
    """An export's defaults, for reading answers outside an export (the leaderboard, the rounds)."""

    mode: str = "majority"
    min_annotations: int = 1
    min_agreement: float = 0.0
    ties: str = "drop"
    pairs: str = "all"
    min_gap: float = 1.0
    criterion: str | None = None
    sft_style: str = "auto"
    edit_pairs: str = "all"


DEFAULTS = DefaultOptions()


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


class PairJudge(Protocol):
    """A kind that reads an answer as verdicts on pairs (base.Compared)."""

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions
    ) -> dict[Key, Outcome]: ...

    def kept_pairs(
        self, voters: Sequence[Vote], ids: Sequence[str], options: AggregationOptions
    ) -> set[Key] | None: ...


def decide(
    keys: Sequence[Hashable], agg: AggregationOptions, weights: Sequence[float] | None = None
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


def voters_of(votes: Sequence[Vote], agg: AggregationOptions) -> list[Vote] | str:
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
    judge: PairJudge,
    agg: AggregationOptions,
    ids: Sequence[str],
    votes: Sequence[Vote],
    dropped: Counter[str],
) -> list[Pair]:
    """The pairs of one task an export writes; what it leaves out is counted in `dropped`."""
    pairs: list[Pair] = []
    if agg.mode == "all":
        for vote in votes:
            keep = judge.kept_pairs([vote], ids, agg)
            for key, outcome in judge.pair_outcomes(ids, vote.result, agg).items():
                if keep is None or key in keep:
                    pairs.append(_pair_of(key, outcome.sign, [outcome], 1.0, 1))
    else:
        voters = voters_of(votes, agg)
        if isinstance(voters, str):
            dropped[voters] += 1
            return []
        per_vote = [judge.pair_outcomes(ids, v.result, agg) for v in voters]
        keep = judge.kept_pairs(voters, ids, agg)
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
