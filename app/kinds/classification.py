"""Classification: one label (or several, in a multi-label project) from the project's label set."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from app.kinds.base import KindBase, fail
from app.kinds.forms import FormFields
from app.kinds.settings import CommonSettings, distinct


class ClassificationSettings(CommonSettings):
    kind: Literal["classification"] = "classification"
    labels: list[str] = Field(
        default_factory=lambda: ["positive", "negative", "neutral"], min_length=2, max_length=200
    )
    multi_label: bool = False

    _labels = field_validator("labels")(lambda v: distinct(v, "labels"))


class Classification(KindBase):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "classification"
    label = "Classification"
    settings_model = ClassificationSettings
    settings_fields: ClassVar[tuple[str, ...]] = ("labels", "multi_label")

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        labels = result.get("labels")
        known = settings.get("labels") or []
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise fail("labels must be a non-empty list of labels")
        unknown = [x for x in labels if x not in known]
        if unknown:
            raise fail(f"unknown label(s) {unknown}; the project's are {known}")
        if len(set(labels)) != len(labels):
            raise fail("a label is given twice")
        if not settings.get("multi_label") and len(labels) != 1:
            raise fail("this project takes exactly one label")
        return {"labels": labels}

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        return {"labels": [v for v in form.getlist("labels") if isinstance(v, str)]}

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    answer_filter_hint = "a label"
