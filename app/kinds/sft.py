"""SFT: the annotator writes (or corrects) the demonstration answer to a prompt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from app.kinds.agreement import Unit
from app.kinds.base import MAX_TEXT, KindBase, fail
from app.kinds.edits import ACCEPTED, EDITED, REPLACED, levenshtein
from app.kinds.forms import FormFields
from app.kinds.rows import Columns, ExportTask, RowForm, sft_columns, sft_rows
from app.kinds.settings import CommonSettings
from app.kinds.votes import AggregationOptions, Vote, voters_of


class SftSettings(CommonSettings):
    kind: Literal["sft"] = "sft"
    show_draft_diff: bool = True


def demonstrations(agg: AggregationOptions, votes: Sequence[Vote], dropped: Counter[str]) -> list[str]:
    """Every demonstration, or the reviewed one (else the latest) per task."""
    if agg.mode == "all":
        return [str(v.result["response"]) for v in votes]
    voters = voters_of(votes, agg)
    if isinstance(voters, str):
        dropped[voters] += 1
        return []
    latest = max(voters, key=lambda v: v.annotation_id)
    return [str(latest.result["response"])]


class Sft(KindBase):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "sft"
    label = "SFT demonstrations"
    settings_model = SftSettings
    settings_fields: ClassVar[tuple[str, ...]] = ("show_draft_diff",)

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        response = result.get("response")
        if not isinstance(response, str) or not response.strip():
            raise fail("response must be the demonstration text")
        if len(response) > MAX_TEXT:
            raise fail(f"response is longer than {MAX_TEXT} characters")
        return {"response": response}

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        value = form.get("response")
        return {"response": value if isinstance(value, str) else ""}

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    def nominal_key(self, result: dict[str, Any]) -> str:
        return ""  # free text has no nominal agreement

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        return {}

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        return None

    def disagreement(self, results: list[dict[str, Any]]) -> float:
        return 0.0

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("sft", "raw")
    default_aggregation: ClassVar[str] = "all"

    def refuse_aggregation(self, mode: str) -> str | None:
        if mode in ("all", "reviewed"):
            return None
        return "demonstrations are free text: aggregate an sft project with 'all' or 'reviewed'"

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        return sft_columns(form)

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        return sft_rows(task.prompt, demonstrations(form.options, task.votes, dropped), form)

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("draft",)
    review_mode: ClassVar[str | None] = "draft"

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        return requested if requested is not None else 1

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        return {"response": str(suggestion.get("response", ""))}

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        distance = levenshtein(str(suggestion.get("response", "")), str(result.get("response", "")))
        if distance == 0:
            return ACCEPTED, 0
        return (REPLACED if rejected else EDITED), distance

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
