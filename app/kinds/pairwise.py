"""Pairwise: which of two responses is better (or a tie), how much better, per criterion, and why."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from app.core.errors import InvalidInput
from app.kinds.base import MAX_TEXT, Compared, fail
from app.kinds.forms import FormFields, text_of
from app.kinds.settings import ComparedSettings, distinct

LLAMA2_STRENGTH = ["Negligibly better / unsure", "Slightly better", "Better", "Significantly better"]


class PairwiseSettings(ComparedSettings):
    kind: Literal["pairwise"] = "pairwise"
    allow_ties: bool = True
    strength_scale: list[str] = Field(default_factory=lambda: list(LLAMA2_STRENGTH), max_length=10)
    criteria: list[str] = Field(default_factory=list, max_length=10)
    rationale: Literal["off", "optional", "required"] = "optional"

    _criteria = field_validator("criteria")(lambda v: distinct(v, "criteria"))


class Pairwise(Compared):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "pairwise"
    label = "Pairwise comparison"
    settings_model = PairwiseSettings
    settings_fields: ClassVar[tuple[str, ...]] = (
        "allow_ties", "strength_scale", "criteria", "rationale", "queue_order"
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
        return clean

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
        return result

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    picks_from_a_pair = True
    ordinal_label = "signed strength"
    answer_filter_hint = "a response id or tie"
