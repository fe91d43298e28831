"""Every metric against small cases computed by hand (or published, for Krippendorff's alpha)."""

from __future__ import annotations

import math

import pytest

from app.kinds import get_kind
from app.kinds.agreement import first_shown_choice, signed_strength
from app.quality import metrics

# Krippendorff's reliability data example (3 coders, 15 units; "*" = missing), as in the `krippendorff`
# package's documentation and Krippendorff (2011): nominal alpha 0.691, interval alpha 0.811.
EXAMPLE = [
    "*    *    *    *    *    3    4    1    2    1    1    3    3    *    3",
    "1    *    2    1    3    3    4    3    *    *    *    *    *    *    *",
    "*    *    2    1    3    4    4    *    2    1    1    3    3    *    4",
]


def _answers() -> list[metrics.Answer]:
    return [
        (coder, unit, int(v))
        for coder, row in enumerate(EXAMPLE)
        for unit, v in enumerate(row.split())
        if v != "*"
    ]


def test_krippendorff_published_example() -> None:
    nominal = metrics.krippendorff_alpha(_answers(), "nominal", bootstrap=0)
    assert nominal.value == pytest.approx(0.691, abs=0.001)
    assert nominal.n == 12  # units with two or more answers (3 of the 15 have fewer)
    interval = metrics.krippendorff_alpha(_answers(), "interval", bootstrap=0)
    assert interval.value == pytest.approx(0.811, abs=0.001)


def test_alpha_interval_brackets_the_value_and_perfect_agreement_is_one() -> None:
    fig = metrics.krippendorff_alpha(_answers(), "nominal", bootstrap=100, seed=1)
    assert fig.low is not None and fig.high is not None
    assert fig.low <= fig.value <= fig.high  # type: ignore[operator]
    same = [(c, u, "x") for c in range(3) for u in range(5)]
    assert metrics.krippendorff_alpha(same, "nominal", bootstrap=0).value == 1.0


def test_percent_agreement_by_hand() -> None:
    # unit 1: a, a, b -> pairs (a,a) agree, (a,b) x2 disagree: 1 of 3; unit 2: c, c -> 1 of 1; unit 3 alone
    answers = [(1, 1, "a"), (2, 1, "a"), (3, 1, "b"), (1, 2, "c"), (2, 2, "c"), (1, 3, "z")]
    fig = metrics.percent_agreement(answers, bootstrap=0)
    assert fig.value == pytest.approx(2 / 4) and fig.n == 2


def test_agreement_with_the_others_majority() -> None:
    answers = [(1, 1, "a"), (2, 1, "a"), (3, 1, "b"), (1, 2, "a"), (2, 2, "b"), (3, 2, "b")]
    per = metrics.majority_agreement(answers)
    # coder 3: unit 1 others say a,a (majority a) -> miss; unit 2 others a,b -> split, skipped
    assert per[3].value == 0.0 and per[3].n == 1
    # coder 1: unit 1 others a,b split -> skipped; unit 2 others b,b -> miss
    assert per[1].value == 0.0 and per[1].n == 1
    # coder 2: unit 1 others a,b -> skipped; unit 2 others a,b -> skipped
    assert 2 not in per


def test_wilson_interval() -> None:
    fig = metrics.wilson(8, 10)
    assert (
        fig.value == 0.8
        and fig.low == pytest.approx(0.4902, abs=1e-3)
        and fig.high == pytest.approx(0.9433, abs=1e-3)
    )
    assert metrics.wilson(0, 0).value is None


def test_position_bias_binomial_test() -> None:
    biased = metrics.position_bias(45, 50)
    assert biased["flagged"] and biased["p_value"] < 1e-6
    fair = metrics.position_bias(26, 50)
    assert not fair["flagged"] and fair["p_value"] == pytest.approx(0.8877, abs=1e-3)
    assert not metrics.position_bias(9, 10)["flagged"]  # too few answers to say


def test_signed_strength_and_ordinal_units() -> None:
    ids = ["a", "b"]
    assert signed_strength({"choice": "a", "strength": 3}, ids) == 4  # A much better
    assert signed_strength({"choice": "b"}, ids) == -1
    assert signed_strength({"choice": "tie"}, ids) == 0
    ranking = get_kind("ranking").ordinal_units(7, {"ranking": ["c", ["a", "b"]]}, ["a", "b", "c"])
    assert ranking == {(7, "c"): 0.0, (7, "a"): 1.0, (7, "b"): 1.0}
    rating = get_kind("rating").ordinal_units(7, {"ratings": {"a": {"x": 4}, "b": {"x": 2}}}, ["a", "b"])
    assert rating == {(7, "a/x"): 4.0, (7, "b/x"): 2.0}


def test_gold_scores() -> None:
    assert (
        get_kind("pairwise").gold_score({"choice": "a", "strength": 0}, {"choice": "a", "strength": 3}, {})
        == 1.0
    )
    assert get_kind("classification").gold_score({"labels": ["y", "x"]}, {"labels": ["x", "y"]}, {}) == 1.0
    # gold c > a > b; answer a > c > b: pairs (a,b) right, (a,c) wrong, (b,c) right -> 2/3
    partial = get_kind("ranking").gold_score({"ranking": ["a", "c", "b"]}, {"ranking": ["c", "a", "b"]}, {})
    assert partial == pytest.approx(2 / 3)
    close = get_kind("rating").gold_score({"ratings": {"a": {"x": 4}}}, {"ratings": {"a": {"x": 5}}},
                               {"scale_min": 1, "scale_max": 5})  # fmt: skip
    assert close == pytest.approx(0.75)
    assert get_kind("sft").gold_score({"response": "x"}, {"response": "y"}, {}) is None


def test_first_shown_choice() -> None:
    assert first_shown_choice({"choice": "b"}, ["b", "a"]) is True
    assert first_shown_choice({"choice": "a"}, ["b", "a"]) is False
    assert first_shown_choice({"choice": "tie"}, ["b", "a"]) is None
    assert math.isfinite(metrics.wilson(1, 3).high or math.nan)


def test_per_coder_agreement_and_alpha_without() -> None:
    # unit 1: coders 1, 2 say a, coder 3 says b; unit 2: all say c
    answers = [(1, 1, "a"), (2, 1, "a"), (3, 1, "b"), (1, 2, "c"), (2, 2, "c"), (3, 2, "c")]
    per = metrics.coder_percent_agreement(answers)
    assert per[1].value == pytest.approx(3 / 4) and per[1].n == 4  # agrees with 2 twice and with 3 once
    assert per[3].value == pytest.approx(2 / 4)
    without = metrics.alpha_without(answers)
    assert without[3] == 1.0  # leaving the dissenter out leaves perfect agreement
    assert without[1] is not None and without[1] < 1.0
