"""Rating: every response scored on the project's scale, per criterion."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from app.kinds.base import Compared, fail
from app.kinds.forms import FormFields
from app.kinds.settings import ComparedSettings, distinct


class RatingSettings(ComparedSettings):
    kind: Literal["rating"] = "rating"
    scale_min: int = Field(1, ge=0, le=10)
    scale_max: int = Field(5, ge=1, le=100)
    criteria: list[str] = Field(default_factory=lambda: ["overall"], min_length=1, max_length=10)

    _criteria = field_validator("criteria")(lambda v: distinct(v, "criteria"))

    @model_validator(mode="after")
    def _scale(self) -> RatingSettings:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be greater than scale_min")
        return self


class Rating(Compared):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "rating"
    label = "Rating"
    settings_model = RatingSettings
    settings_fields: ClassVar[tuple[str, ...]] = ("scale_min", "scale_max", "criteria", "queue_order")

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        ratings = result.get("ratings")
        lo, hi = settings.get("scale_min", 1), settings.get("scale_max", 5)
        criteria = settings.get("criteria") or ["overall"]
        if not isinstance(ratings, dict) or sorted(ratings) != sorted(response_ids):
            raise fail(f"ratings must rate every response: {response_ids}")
        for rid, per in ratings.items():
            if not isinstance(per, dict) or sorted(per) != sorted(criteria):
                raise fail(f"response {rid} needs a rating for each criterion: {criteria}")
            for name, value in per.items():
                if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                    raise fail(f"rating of {rid} for {name} must be an integer from {lo} to {hi}")
        return {"ratings": ratings}

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        """Fields named rating__<response id>__<criterion>."""
        ratings: dict[str, dict[str, int]] = {}
        for key, value in form.multi_items():
            if key.startswith("rating__") and isinstance(value, str) and value.strip().lstrip("-").isdigit():
                _, rid, criterion = key.split("__", 2)
                ratings.setdefault(rid, {})[criterion] = int(value)
        return {"ratings": ratings}

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    suggests_answers = False  # its pre-labels are generated responses, rated like any other
