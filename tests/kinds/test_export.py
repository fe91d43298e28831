"""What each kind tells an export: its formats, the aggregation that fits it, and its columns."""

from __future__ import annotations

import pytest

from app.exports.schemas import AGGREGATIONS, Aggregation
from app.kinds import KIND_NAMES, get_kind
from app.kinds.rows import RowForm


def test_every_kind_exports_raw_and_its_own_formats() -> None:
    assert {name: get_kind(name).export_formats for name in KIND_NAMES} == {
        "pairwise": ("preference", "kto", "sft", "raw"),
        "ranking": ("preference", "kto", "sft", "raw"),
        "rating": ("preference", "kto", "raw"),
        "sft": ("sft", "raw"),
        "classification": ("classification", "raw"),
        "chat": ("preference", "kto", "sft", "raw"),  # its turns are pairwise tasks
        "trajectory": ("stepwise", "raw"),
    }


@pytest.mark.parametrize("name", KIND_NAMES)
def test_the_default_aggregation_is_one_the_kind_accepts(name: str) -> None:
    kind = get_kind(name)
    assert kind.default_aggregation in AGGREGATIONS
    assert kind.refuse_aggregation(kind.default_aggregation) is None


def test_free_text_refuses_voting_modes() -> None:
    sft = get_kind("sft")
    assert [m for m in AGGREGATIONS if sft.refuse_aggregation(m)] == ["majority", "unanimous", "quality"]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_kind_names_columns_for_each_of_its_formats(name: str) -> None:
    kind = get_kind(name)
    form = RowForm(options=Aggregation(ties="keep"), chat=False, settings=kind.validate_settings({}))
    for export_format in kind.export_formats[:-1]:  # "raw" is the export domain's, the same for all
        names = [column for column, _ in kind.export_columns(export_format, form)]
        assert names and len(names) == len(set(names))


def test_only_ratings_carry_scores_and_only_rankings_adjacent_pairs() -> None:
    options = {name: get_kind(name).export_options for name in KIND_NAMES}
    assert [n for n, o in options.items() if "criterion" in o] == ["rating"]
    assert [n for n, o in options.items() if "pairs" in o] == ["ranking"]
    assert get_kind("rating").score_criteria({"criteria": ["x", "y"]}) == ["x", "y"]
    assert get_kind("pairwise").score_criteria({"criteria": ["x"]}) == []
