"""Aggregation against hand-built cases: ranking → pairs, ties, rating gaps, and every mode (the kinds'
export sections and app.kinds.votes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from app.exports.schemas import Aggregation
from app.kinds import get_kind
from app.kinds.classification import aggregate_labels
from app.kinds.sft import demonstrations
from app.kinds.votes import Pair, Vote, kto_labels
from app.kinds.votes import aggregate_pairs as pairs_by_kind


def aggregate_pairs(
    kind: str, agg: Aggregation, ids: list[str], vs: list[Vote], dropped: Counter
) -> list[Pair]:
    """The pairs a project of `kind` exports from one task's votes."""
    return pairs_by_kind(get_kind(kind), agg, ids, vs, dropped)


def votes(*results: dict[str, Any], reviewed: tuple[int, ...] = ()) -> list[Vote]:
    return [Vote(i + 1, 100 + i, r, i in reviewed) for i, r in enumerate(results)]


def pairs_of(
    kind: str, ids: list[str], vs: list[Vote], **agg: Any
) -> tuple[list[tuple[str, str, bool]], Counter]:
    dropped: Counter[str] = Counter()
    found = aggregate_pairs(kind, Aggregation(**agg), ids, vs, dropped)
    return [(p.chosen, p.rejected, p.tie) for p in found], dropped


def test_ranking_of_four_gives_six_pairs_best_first() -> None:
    found, _ = pairs_of("ranking", ["a", "b", "c", "d"], votes({"ranking": ["c", "a", "d", "b"]}))
    assert sorted(found) == sorted(
        [("c", "a", False), ("c", "d", False), ("c", "b", False), ("a", "d", False), ("a", "b", False),
         ("d", "b", False)]
    )  # fmt: skip


def test_ranking_adjacent_pairs_only() -> None:
    found, _ = pairs_of(
        "ranking", ["a", "b", "c", "d"], votes({"ranking": ["c", "a", "d", "b"]}), pairs="adjacent"
    )
    assert sorted(found) == sorted([("c", "a", False), ("a", "d", False), ("d", "b", False)])


def test_ranking_adjacent_follows_the_mean_order_of_several_annotators() -> None:
    vs = votes({"ranking": ["a", "b", "c"]}, {"ranking": ["a", "c", "b"]}, {"ranking": ["b", "a", "c"]})
    # mean positions: a 1/3, b 4/3, c 5/3 → adjacent pairs (a,b) and (b,c); (b,c) is 2 to 1 for b
    found, dropped = pairs_of("ranking", ["a", "b", "c"], vs, pairs="adjacent")
    assert found == [("a", "b", False), ("b", "c", False)]
    assert not dropped


def test_ranking_ties_are_dropped_or_kept() -> None:
    v = votes({"ranking": [["a", "b"], "c"]})
    found, dropped = pairs_of("ranking", ["a", "b", "c"], v)
    assert sorted(found) == [("a", "c", False), ("b", "c", False)]
    assert dropped == {"tie": 1}
    kept, dropped = pairs_of("ranking", ["a", "b", "c"], v, ties="keep")
    assert ("a", "b", True) in kept and len(kept) == 3 and not dropped


def test_pairwise_majority_unanimous_and_all() -> None:
    vs = votes({"choice": "b", "strength": 3}, {"choice": "b", "strength": 1}, {"choice": "a"})
    found, _ = pairs_of("pairwise", ["a", "b"], vs)
    assert found == [("b", "a", False)]
    dropped: Counter[str] = Counter()
    (pair,) = aggregate_pairs("pairwise", Aggregation(), ["a", "b"], vs, dropped)
    assert (
        pair.agreement == 2 / 3 and pair.votes == 3 and pair.margin == 2.0
    )  # mean of the winners' strengths
    found, dropped = pairs_of("pairwise", ["a", "b"], vs, mode="unanimous")
    assert found == [] and dropped == {"not unanimous": 1}
    found, dropped = pairs_of("pairwise", ["a", "b"], vs, min_agreement=0.7)
    assert found == [] and dropped == {"below minimum agreement": 1}
    found, _ = pairs_of("pairwise", ["a", "b"], vs, mode="all")
    assert found == [("b", "a", False), ("b", "a", False), ("a", "b", False)]


def test_pairwise_split_vote_has_no_majority() -> None:
    found, dropped = pairs_of("pairwise", ["a", "b"], votes({"choice": "a"}, {"choice": "b"}))
    assert found == [] and dropped == {"no majority": 1}


def test_pairwise_majority_tie_is_a_tie() -> None:
    vs = votes({"choice": "tie"}, {"choice": "tie"}, {"choice": "a"})
    assert pairs_of("pairwise", ["a", "b"], vs) == ([], Counter({"tie": 1}))
    dropped: Counter[str] = Counter()
    (pair,) = aggregate_pairs("pairwise", Aggregation(ties="keep"), ["a", "b"], vs, dropped)
    assert pair.tie and pair.margin is None  # nobody gave a strength


def test_min_annotations() -> None:
    found, dropped = pairs_of("pairwise", ["a", "b"], votes({"choice": "a"}), min_annotations=2)
    assert found == [] and dropped == {"fewer annotations than the minimum": 1}


def test_reviewed_label_wins_over_the_majority() -> None:
    vs = votes({"choice": "a"}, {"choice": "a"}, {"choice": "b"}, reviewed=(2,))
    assert pairs_of("pairwise", ["a", "b"], vs, mode="reviewed")[0] == [("b", "a", False)]
    assert pairs_of("pairwise", ["a", "b"], vs, mode="majority")[0] == [("a", "b", False)]
    unreviewed = votes({"choice": "a"}, {"choice": "a"}, {"choice": "b"})
    assert pairs_of("pairwise", ["a", "b"], unreviewed, mode="reviewed")[0] == [("a", "b", False)]


def test_rating_pairs_by_score_gap_with_scores_and_margin() -> None:
    r = {"ratings": {"a": {"x": 5, "y": 4}, "b": {"x": 2, "y": 2}, "c": {"x": 5, "y": 5}}}
    dropped: Counter[str] = Counter()
    found = aggregate_pairs("rating", Aggregation(min_gap=1), ["a", "b", "c"], votes(r), dropped)
    # means: a 4.5, b 2, c 5 → (a,b) gap 2.5, (c,b) gap 3, (a,c) gap 0.5 < 1 → tie, dropped
    assert [(p.chosen, p.rejected, p.margin, p.score_chosen, p.score_rejected) for p in found] == [
        ("a", "b", 2.5, 4.5, 2.0),
        ("c", "b", 3.0, 5.0, 2.0),
    ]
    assert dropped == {"tie": 1}
    by_x = aggregate_pairs("rating", Aggregation(criterion="x"), ["a", "b", "c"], votes(r), Counter())
    assert [(p.chosen, p.rejected) for p in by_x] == [("a", "b"), ("c", "b")]  # a = c on x: a tie


def test_kto_labels_from_pairs() -> None:
    found = aggregate_pairs(
        "ranking", Aggregation(), list("abcd"), votes({"ranking": ["c", "a", "d", "b"]}), Counter()
    )
    # wins - losses: c +3, a +1, d -1, b -3 → c, a desirable; d, b not
    assert sorted(kto_labels(found)) == [("a", True), ("b", False), ("c", True), ("d", False)]
    three = aggregate_pairs(
        "ranking", Aggregation(), list("abc"), votes({"ranking": ["b", "c", "a"]}), Counter()
    )
    assert sorted(kto_labels(three)) == [("a", False), ("b", True)]  # the middle one says nothing


def test_classification_majority_and_multi_label_sets() -> None:
    vs = votes({"labels": ["spam"]}, {"labels": ["spam"]}, {"labels": ["ham"]})
    assert aggregate_labels(Aggregation(), vs, Counter()) == [("spam",)]
    multi = votes({"labels": ["x", "y"]}, {"labels": ["y", "x"]}, {"labels": ["x"]})
    assert aggregate_labels(Aggregation(), multi, Counter()) == [("x", "y")]  # order does not matter
    dropped: Counter[str] = Counter()
    assert aggregate_labels(Aggregation(mode="unanimous"), multi, dropped) == [] and dropped == {
        "not unanimous": 1
    }
    assert len(aggregate_labels(Aggregation(mode="all"), multi, Counter())) == 3


def test_sft_demonstrations() -> None:
    vs = votes({"response": "first"}, {"response": "second"}, {"response": "fixed"}, reviewed=(0,))
    assert demonstrations(Aggregation(mode="all"), vs, Counter()) == ["first", "second", "fixed"]
    assert demonstrations(Aggregation(mode="reviewed"), vs, Counter()) == ["first"]
    assert demonstrations(Aggregation(mode="reviewed"), vs[1:], Counter()) == ["fixed"]  # else the latest


def test_quality_mode_weights_votes() -> None:
    heavy, light1, light2 = (Vote(1, 1, {"choice": "b"}, False, 2.2), Vote(2, 2, {"choice": "a"}, False, 0.4),
                             Vote(3, 3, {"choice": "a"}, False, 0.4))  # fmt: skip
    dropped: Counter[str] = Counter()
    (pair,) = aggregate_pairs(
        "pairwise", Aggregation(mode="quality"), ["a", "b"], [heavy, light1, light2], dropped
    )
    assert (pair.chosen, pair.rejected) == ("b", "a") and pair.agreement == pytest.approx(2.2 / 3.0)
    assert pairs_of("pairwise", ["a", "b"], [heavy, light1, light2])[0] == [
        ("a", "b", False)
    ]  # plain majority
    untrusted = [Vote(1, 1, {"choice": "a"}, False, 0.0)]
    assert pairs_of("pairwise", ["a", "b"], untrusted, mode="quality") == (
        [],
        Counter({"no trusted annotator": 1}),
    )
    labels = [Vote(1, 1, {"labels": ["x"]}, False, 0.1), Vote(2, 2, {"labels": ["y"]}, False, 1.0)]
    assert aggregate_labels(Aggregation(mode="quality"), labels, Counter()) == [("y",)]
