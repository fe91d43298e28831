"""SFT: the annotator writes (or corrects) the demonstration answer to a prompt."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from app.kinds.base import MAX_TEXT, KindBase, fail
from app.kinds.forms import FormFields
from app.kinds.settings import CommonSettings


class SftSettings(CommonSettings):
    kind: Literal["sft"] = "sft"
    show_draft_diff: bool = True


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

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    default_export_mode = "all"  # demonstrations are not voted on: every one is a row
