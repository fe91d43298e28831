"""The synthetic world of bench/loop.py: the truth its reward models are scored against."""

from __future__ import annotations

import random

import pytest

from bench.loop import better_of, count_good, good_words, make_pair, vocabulary


def test_the_response_with_more_good_words_is_better() -> None:
    good = frozenset({"bako", "tumi"})

    assert better_of(" bako tumi sela", " bako sela sela", good) == "a"
    assert better_of(" sela rofe", " tumi rofe", good) == "b"


def test_a_tied_pair_has_no_truth() -> None:
    with pytest.raises(ValueError, match="tied"):
        better_of(" bako sela", " sela bako", frozenset({"bako"}))


def test_generated_pairs_never_tie_and_their_gap_is_the_difference_in_good_words() -> None:
    words = vocabulary()
    good = good_words(1, words)
    rng = random.Random(0)

    for i in range(300):
        pair = make_pair(rng, i, good, words)
        worse = "b" if pair.better == "a" else "a"
        gap = count_good(pair.text(pair.better), good) - count_good(pair.text(worse), good)
        assert gap == pair.gap >= 1
        assert pair.truth_row() == {"prompt": pair.prompt, "chosen": pair.text(pair.better),
                                    "rejected": pair.text(worse)}  # fmt: skip


def test_the_vocabulary_is_fixed_and_each_seed_hides_its_own_third_of_it() -> None:
    words = vocabulary()

    assert words == vocabulary() and len(set(words)) == 120
    assert len(good_words(1, words)) == 40
    assert good_words(1, words) == good_words(1, words) != good_words(2, words)
