"""The kinds registry: one entry per project kind, and one syntax for a typed ranking on every page."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidInput
from app.kinds import KIND_NAMES, get_kind, kind_of
from app.kinds.forms import parse_ranking
from app.models import Project


def test_every_registered_kind_is_found_by_its_name_and_by_its_projects() -> None:
    assert KIND_NAMES == ("pairwise", "ranking", "rating", "sft", "classification", "chat", "trajectory")
    for name in KIND_NAMES:
        assert get_kind(name).name == name
        assert kind_of(Project(kind=name)) is get_kind(name)
    with pytest.raises(KeyError):
        get_kind("poll")


def test_settings_of_every_kind_fill_defaults_and_name_the_kind() -> None:
    for name in KIND_NAMES:
        settings = get_kind(name).validate_settings({})
        assert settings["kind"] == name and settings["overlap"] == 1


def test_a_ranking_is_typed_by_ids_or_by_the_letters_shown() -> None:
    order = ["r2", "r1", "r3"]  # shown as A, B, C
    assert parse_ranking("r1, r2, r3", order) == ["r1", "r2", "r3"]
    assert parse_ranking("BAC", order) == ["r1", "r2", "r3"]
    assert parse_ranking("b > a > c", order) == ["r1", "r2", "r3"]
    assert parse_ranking("A=C, B", order) == [["r2", "r3"], "r1"]


def test_a_ranking_naming_no_response_says_which_names_exist() -> None:
    with pytest.raises(InvalidInput, match=r"'Z' names no response; the responses are A \(r2\)"):
        parse_ranking("A Z", ["r2", "r1"])
