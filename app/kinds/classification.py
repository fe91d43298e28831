"""Classification: one label (or several, in a multi-label project) from the project's label set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, SQLColumnExpression, Text, cast

from app.kinds.agreement import Unit
from app.kinds.base import KindBase, fail
from app.kinds.edits import ACCEPTED, EDITED, REPLACED
from app.kinds.forms import FormFields
from app.kinds.rows import Columns, ExportTask, RowForm, as_text
from app.kinds.settings import CommonSettings, distinct
from app.kinds.votes import AggregationOptions, Vote, decide, voters_of


class ClassificationSettings(CommonSettings):
    kind: Literal["classification"] = "classification"
    labels: list[str] = Field(
        default_factory=lambda: ["positive", "negative", "neutral"], min_length=2, max_length=200
    )
    multi_label: bool = False

    _labels = field_validator("labels")(lambda v: distinct(v, "labels"))


def aggregate_labels(
    agg: AggregationOptions, votes: Sequence[Vote], dropped: Counter[str]
) -> list[tuple[str, ...]]:
    """The label sets an export writes for one task."""
    if agg.mode == "all":
        return [tuple(sorted(v.result["labels"])) for v in votes]
    voters = voters_of(votes, agg)
    if isinstance(voters, str):
        dropped[voters] += 1
        return []
    verdict = decide(
        [tuple(sorted(v.result["labels"])) for v in voters],
        agg,
        [v.weight for v in voters] if agg.mode == "quality" else None,
    )
    if isinstance(verdict, str):
        dropped[verdict] += 1
        return []
    labels, _ = verdict
    assert isinstance(labels, tuple)
    return [labels]


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
    answer_filter_hint = "a label"

    def nominal_key(self, result: dict[str, Any]) -> str:
        return "|".join(sorted(result.get("labels") or []))

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        """One unit per task, except multi-label answers: one yes/no per label of the project."""
        labels = list(settings.get("labels") or [])
        if len(result.get("labels") or []) != 1 and labels:
            chosen = set(result.get("labels") or [])
            return {(task_id, label): ("yes" if label in chosen else "no") for label in labels}
        return {(task_id, ""): self.nominal_key(result)}

    def answer_filter(self, result: SQLColumnExpression[Any], answer: str) -> ColumnElement[bool] | None:
        # the label among the answer's labels: matched, quoted, in the list's JSON text
        return cast(result["labels"], Text).contains(f'"{answer}"')

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("classification", "raw")

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        if form.settings.get("multi_label"):
            return [("text", "string"), ("labels", "strings")]
        return [("text", "string"), ("label", "string")]

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        labels = aggregate_labels(form.options, task.votes, dropped)
        text = as_text(task.prompt)
        if form.settings.get("multi_label"):
            return [{"text": text, "labels": list(ls)} for ls in labels]
        return [{"text": text, "label": ls[0]} for ls in labels]

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("label",)
    review_mode: ClassVar[str | None] = "label"

    def label_schema(self, settings: dict[str, Any]) -> dict[str, Any]:
        """One of the project's labels (several in a multi-label project) and a confidence."""
        labels = list(settings.get("labels") or [])
        if settings.get("multi_label"):
            return {
                "labels": {"type": "array", "items": {"type": "string", "enum": labels}},
                "confidence": {"type": "number"},
            }
        return {"label": {"type": "string", "enum": labels}, "confidence": {"type": "number"}}

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        return {"labels": list(suggestion.get("labels") or [])}

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        before, after = set(suggestion.get("labels") or []), set(result.get("labels") or [])
        distance = len(before ^ after)
        if distance == 0:
            return ACCEPTED, 0
        return (EDITED if before & after and not rejected else REPLACED), distance

    def suggestion_agrees(self, suggestion: dict[str, Any], answer: dict[str, Any]) -> bool:
        return set(suggestion.get("labels") or []) == set(answer.get("labels") or [])

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
