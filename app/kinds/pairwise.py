"""Pairwise: which of two responses is better (or a tie), how much better, per criterion, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, SQLColumnExpression

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit, signed_strength
from app.kinds.base import MAX_TEXT, Rewritable, fail
from app.kinds.forms import FormFields, text_of
from app.kinds.rewrites import clean_rewrites, rewrites_from_form
from app.kinds.settings import EditableSettings, distinct
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome

LLAMA2_STRENGTH = ["Negligibly better / unsure", "Slightly better", "Better", "Significantly better"]


def _choice(result: SQLColumnExpression[Any]) -> ColumnElement[str]:
    """SQL: the chosen response id (or "tie") in a stored pairwise result."""
    chosen: ColumnElement[str] = result["choice"].as_string()
    return chosen


class PairwiseSettings(EditableSettings):
    kind: Literal["pairwise"] = "pairwise"
    allow_ties: bool = True
    strength_scale: list[str] = Field(default_factory=lambda: list(LLAMA2_STRENGTH), max_length=10)
    criteria: list[str] = Field(default_factory=list, max_length=10)
    rationale: Literal["off", "optional", "required"] = "optional"

    _criteria = field_validator("criteria")(lambda v: distinct(v, "criteria"))


class Pairwise(Rewritable):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "pairwise"
    label = "Pairwise comparison"
    settings_model = PairwiseSettings
    settings_fields: ClassVar[tuple[str, ...]] = (
        "allow_ties", "strength_scale", "criteria", "rationale", "queue_order", "edits", "edit_max_chars",
        "turn_ratings", "turn_scale",
    )  # fmt: skip

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        if len(response_ids) < 2:
            raise fail("a pairwise task needs two responses")
        allowed = set(response_ids) | ({"tie"} if settings.get("allow_ties", True) else set())
        choice = result.get("choice")
        if choice not in allowed:
            raise fail(f"choice must be one of {sorted(allowed)}")
        clean: dict[str, Any] = {"choice": choice}
        strength = result.get("strength")
        if strength is not None:
            scale = settings.get("strength_scale") or []
            if (
                not isinstance(strength, int)
                or isinstance(strength, bool)
                or not 0 <= strength < max(len(scale), 1)
            ):
                raise fail(f"strength must be an integer from 0 to {max(len(scale) - 1, 0)}")
            clean["strength"] = strength
        criteria = result.get("criteria") or {}
        if not isinstance(criteria, dict):
            raise fail("criteria must map a criterion to a response id or 'tie'")
        known = set(settings.get("criteria") or [])
        for name, value in criteria.items():
            if name not in known:
                raise fail(f"unknown criterion {name!r}; the project's are {sorted(known)}")
            if value not in allowed:
                raise fail(f"criterion {name!r} must be one of {sorted(allowed)}")
        if criteria:
            clean["criteria"] = dict(criteria)
        rationale = result.get("rationale")
        if rationale is not None and not isinstance(rationale, str):
            raise fail("rationale must be text")
        if settings.get("rationale") == "required" and not (rationale or "").strip():
            raise fail("this project asks for a rationale")
        if rationale and rationale.strip():
            clean["rationale"] = rationale.strip()[:MAX_TEXT]
        preferred = response_ids[:2] if choice == "tie" else [choice]  # a tie: either may be improved
        return clean | clean_rewrites(settings, response_ids, result, preferred)

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        choice = text_of(form, "choice")
        if not choice:
            raise InvalidInput("choose a response (1, 2) or a tie (3)")
        result: dict[str, Any] = {"choice": choice}
        if (strength := text_of(form, "strength")).isdigit():
            result["strength"] = int(strength)
        if rationale := text_of(form, "rationale"):
            result["rationale"] = rationale
        return result | rewrites_from_form(form)

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    takes_rewrites = True
    has_position_bias = True
    has_judge = True
    answer_filter_hint = "a response id or tie"

    def nominal_key(self, result: dict[str, Any]) -> str:
        return str(result.get("choice"))

    def ordinal_units(
        self, task_id: int, result: dict[str, Any], response_ids: list[str]
    ) -> dict[Unit, float]:
        """One unit per task: the signed strength."""
        value = signed_strength(result, response_ids)
        return {} if value is None else {(task_id, ""): float(value)}

    def answer_filter(self, result: SQLColumnExpression[Any], answer: str) -> ColumnElement[bool] | None:
        return _choice(result) == answer

    def position_choice(
        self, result: SQLColumnExpression[Any], order: SQLColumnExpression[Any]
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        choice: Any = _choice(result)
        return choice == order[0].as_string(), choice != "tie"

    def agrees_with_judge(
        self, result: SQLColumnExpression[Any], judged: SQLColumnExpression[Any]
    ) -> ColumnElement[bool]:
        return _choice(result) == _choice(judged)

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    pair_margin: ClassVar[bool] = True

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions = DEFAULTS
    ) -> dict[Key, Outcome]:
        if len(ids) < 2:
            return {}
        a, b = ids[0], ids[1]
        choice = str(result["choice"])
        strength = result.get("strength")
        sign = 0 if choice == "tie" else (1 if choice == a else -1)
        return {(a, b): Outcome(sign, float(strength) if strength is not None else None)}

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("judge", "generate")
    review_mode: ClassVar[str | None] = "judge"

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        return 2  # a pair, whatever the job asked

    def judged_responses(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return responses[:2]

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        choice = suggestion.get("choice")
        if choice == "tie" and not settings.get("allow_ties", True):
            raise InvalidInput(
                "the judge could not decide (its two orders disagreed) and this project allows no ties: "
                "choose a response"
            )
        result: dict[str, Any] = {"choice": choice}
        if settings.get("rationale") == "required":
            result["rationale"] = str(suggestion.get("rationale") or "accepted the judge's choice")
        return result

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
    has_judge_board = True

    def judge_votes(self, response_ids: list[str], suggestion: dict[str, Any]) -> dict[tuple[str, str], int]:
        return self.pair_votes(response_ids, suggestion) if suggestion.get("choice") else {}

    def judge_prefers(self, suggestion: dict[str, Any], pair: tuple[str, str]) -> str | None:
        choice = suggestion.get("choice")
        return str(choice) if choice in pair else None

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    ordinal_label = "signed strength"
