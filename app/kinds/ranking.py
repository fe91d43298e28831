"""Ranking: order k responses best first, ties allowed where the project says so."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from app.core.errors import InvalidInput
from app.kinds.base import Compared, fail
from app.kinds.edits import ACCEPTED, REPLACED, discordant_pairs, flat_ranking
from app.kinds.forms import FormFields, parse_ranking, text_of
from app.kinds.settings import ComparedSettings


class RankingSettings(ComparedSettings):
    kind: Literal["ranking"] = "ranking"
    k: int = Field(4, ge=2, le=20, description="responses to rank")
    allow_ties: bool = False


class Ranking(Compared):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "ranking"
    label = "Ranking"
    settings_model = RankingSettings
    settings_fields: ClassVar[tuple[str, ...]] = ("k", "allow_ties", "queue_order")

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        ranking = result.get("ranking")
        if not isinstance(ranking, list) or not ranking:
            raise fail("ranking must be a list of response ids, best first")
        flat: list[str] = []
        for item in ranking:
            if isinstance(item, list):  # a group of tied responses
                if not settings.get("allow_ties"):
                    raise fail("this project does not allow ties in a ranking")
                flat.extend(item)
            else:
                flat.append(item)
        if sorted(map(str, flat)) != sorted(response_ids) or len(set(flat)) != len(flat):
            raise fail(f"ranking must name every response exactly once: {response_ids}")
        return {"ranking": ranking}

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        return {"ranking": parse_ranking(text_of(form, "ranking"), order)}

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("judge", "generate")
    review_mode: ClassVar[str | None] = "judge"

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        return requested if requested is not None else int(settings.get("k", 4))

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        if not suggestion.get("ranking"):
            raise InvalidInput("this judgement has no ranking to accept: rank the responses")
        return {"ranking": list(suggestion["ranking"])}

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        if not suggestion.get("ranking"):  # a judge of two responses chose one
            return super().review_origin(suggestion, result, rejected=rejected)
        before, after = flat_ranking(suggestion["ranking"]), flat_ranking(result.get("ranking") or [])
        distance = discordant_pairs(before, after)
        return (ACCEPTED, 0) if distance == 0 else (REPLACED, distance)

    def suggestion_agrees(self, suggestion: dict[str, Any], answer: dict[str, Any]) -> bool:
        """The judge's choice is among the responses the person ranked first."""
        if not answer.get("ranking"):
            return False
        first = answer["ranking"][0]
        return suggestion.get("choice") in (first if isinstance(first, list) else [first])

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
