"""The queue-order rules, as pure functions."""

from __future__ import annotations

import pytest

from app.loop.priority import Scored, disagreement, favourite, margin, priorities, ranked


def test_margin_is_the_gap_for_two_and_the_smallest_neighbour_gap_for_more() -> None:
    assert margin({"a": 1.5, "b": -0.5}) == pytest.approx(2.0)
    assert margin([0.0, 3.0, 1.0, 1.25]) == pytest.approx(0.25)  # 1.0 and 1.25 are the closest pair
    with pytest.raises(ValueError, match="two"):
        margin({"a": 1.0})


def test_favourite_and_disagreement_with_the_judge() -> None:
    scores = {"a": 0.2, "b": 1.0, "c": -1.0}
    assert favourite(scores) == "b"
    assert disagreement(Scored(1, scores, judge="c")) == pytest.approx(2.0)
    assert disagreement(Scored(1, scores, judge="b")) == 0.0  # they agree
    assert disagreement(Scored(1, scores, judge="tie")) == 0.0
    assert disagreement(Scored(1, scores, judge=None)) == 0.0
    assert disagreement(Scored(1, scores, judge="zz")) == 0.0  # a response that was not scored


ITEMS = [
    Scored(10, {"a": 0.0, "b": 3.0}, judge="b"),  # sure, agrees with the judge
    Scored(11, {"a": 0.0, "b": 0.1}, judge="b"),  # unsure, agrees
    Scored(12, {"a": 0.0, "b": 1.0}, judge="a"),  # disagrees by 1.0
    Scored(13, {"a": 2.5, "b": 0.0}, judge="b"),  # disagrees by 2.5
    Scored(14, {"a": 0.0, "b": 0.5}),  # not judged
]


def test_margin_rule_serves_the_least_sure_first() -> None:
    assert ranked("margin", ITEMS) == [11, 14, 12, 13, 10]


def test_disagreement_rule_serves_the_widest_disagreement_first_then_by_margin() -> None:
    assert ranked("disagreement", ITEMS) == [13, 12, 11, 14, 10]


def test_random_rule_is_a_seeded_permutation() -> None:
    first = ranked("random", ITEMS, seed=1)
    assert sorted(first) == [10, 11, 12, 13, 14]
    assert ranked("random", list(reversed(ITEMS)), seed=1) == first  # the input order does not matter
    assert any(ranked("random", ITEMS, seed=s) != first for s in range(2, 6))


def test_priorities_run_from_n_down_to_one() -> None:
    assert priorities("margin", ITEMS) == {11: 5, 14: 4, 12: 3, 13: 2, 10: 1}
    with pytest.raises(ValueError, match="rule"):
        ranked("priority", ITEMS)
