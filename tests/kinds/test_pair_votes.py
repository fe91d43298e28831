"""What the loop asks of a kind: an answer as votes on pairs of responses, and what the judge says."""

from __future__ import annotations

from app.kinds import all_kinds, get_kind
from app.kinds.votes import DEFAULTS


def test_a_pairwise_choice_is_one_vote_on_the_first_two_responses() -> None:
    pairwise = get_kind("pairwise")
    assert pairwise.pair_votes(["a", "b"], {"choice": "b"}) == {("a", "b"): -1}
    assert pairwise.pair_votes(["a", "b"], {"choice": "tie"}) == {("a", "b"): 0}
    assert pairwise.judge_prefers({"choice": "a"}, ("a", "b")) == "a"
    assert pairwise.judge_prefers({"choice": "tie"}, ("a", "b")) is None


def test_a_ranking_votes_on_every_pair_and_a_tied_group_ties() -> None:
    votes = get_kind("ranking").pair_votes(["a", "b", "c"], {"ranking": ["c", ["a", "b"]]})
    assert votes == {("a", "b"): 0, ("a", "c"): -1, ("b", "c"): -1}


def test_ratings_closer_than_the_gap_tie() -> None:
    ratings = {"a": {"x": 4, "y": 4}, "b": {"x": 4, "y": 3}, "c": {"x": 1, "y": 2}}
    votes = get_kind("rating").pair_votes(["a", "b", "c"], {"ratings": ratings})
    assert DEFAULTS.min_gap == 1.0
    assert votes == {("a", "b"): 0, ("a", "c"): 1, ("b", "c"): 1}


def test_only_kinds_that_compare_responses_vote_and_only_some_have_a_judge_board() -> None:
    for kind in all_kinds():
        if not kind.compares_responses:
            assert kind.pair_votes(["a", "b"], {"response": "x"}) == {}
    assert {k.name for k in all_kinds() if k.has_judge_board} == {"pairwise", "ranking", "chat"}
    assert get_kind("ranking").judge_votes(["a", "b"], {"choice": "a"}) == {}  # no order: no verdict
    assert get_kind("rating").judge_votes(["a", "b"], {"choice": "a"}) == {}
