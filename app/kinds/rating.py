"""Rating: every response scored on the project's scale, per criterion."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from app.kinds.agreement import Unit
from app.kinds.base import Compared, fail
from app.kinds.forms import FormFields
from app.kinds.settings import ComparedSettings, distinct
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome


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


def _score(per: dict[str, Any], criterion: str | None) -> float:
    """A response's score: by one criterion, else the mean of its criteria."""
    if criterion is not None:
        return float(per[criterion])
    return sum(float(v) for v in per.values()) / max(len(per), 1)


class Rating(Compared):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "rating"
    label = "Rating"
    settings_model = RatingSettings
    settings_fields: ClassVar[tuple[str, ...]] = (
        "scale_min",
        "scale_max",
        "criteria",
        "queue_order",
        "turn_ratings",
        "turn_scale",
    )

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
    def nominal_key(self, result: dict[str, Any]) -> str:
        ratings = result.get("ratings") or {}
        return ";".join(f"{rid}:{','.join(f'{c}={v}' for c, v in sorted(per.items()))}"
                        for rid, per in sorted(ratings.items()))  # fmt: skip

    def ordinal_units(
        self, task_id: int, result: dict[str, Any], response_ids: list[str]
    ) -> dict[Unit, float]:
        """One unit per response and criterion: the score."""
        return {
            (task_id, f"{rid}/{criterion}"): float(value)
            for rid, per in (result.get("ratings") or {}).items()
            for criterion, value in per.items()
        }

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        """Closeness to gold's scores on the project's scale."""
        if not isinstance(gold, dict):
            return None
        lo, hi = float(settings.get("scale_min", 1)), float(settings.get("scale_max", 5))
        mine, want = result.get("ratings") or {}, gold.get("ratings") or {}
        gaps = [abs(float(mine[rid][c]) - float(v)) for rid, per in want.items() for c, v in per.items()
                if rid in mine and c in mine[rid]]  # fmt: skip
        return 1.0 - sum(gaps) / len(gaps) / max(hi - lo, 1.0) if gaps else None

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_options: ClassVar[frozenset[str]] = frozenset({"ties", "min_gap", "criterion"})
    pair_margin: ClassVar[bool] = True
    pair_scores: ClassVar[bool] = True

    def score_criteria(self, settings: dict[str, Any]) -> list[str]:
        return list(settings.get("criteria") or [])

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions = DEFAULTS
    ) -> dict[Key, Outcome]:
        """A pair is a tie unless its scores are at least `min_gap` apart."""
        order = {rid: i for i, rid in enumerate(ids)}
        scores = {str(rid): _score(per, options.criterion) for rid, per in result["ratings"].items()}
        found: dict[Key, Outcome] = {}
        for a, b in combinations(sorted(scores, key=order.__getitem__), 2):
            gap = scores[a] - scores[b]
            sign = 0 if abs(gap) < options.min_gap else (1 if gap > 0 else -1)
            found[(a, b)] = Outcome(sign, score_a=scores[a], score_b=scores[b])
        return found

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("generate",)

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
