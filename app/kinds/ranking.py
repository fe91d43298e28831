"""Ranking: order k responses best first, ties allowed where the project says so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations, pairwise
from typing import Any, ClassVar, Literal

from pydantic import Field

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit, ranking_positions
from app.kinds.base import Rewritable, fail
from app.kinds.edits import ACCEPTED, REPLACED, discordant_pairs, flat_ranking
from app.kinds.forms import FormFields, parse_ranking, text_of
from app.kinds.rewrites import clean_rewrites, rewrites_from_form
from app.kinds.settings import EditableSettings
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome, Vote


class RankingSettings(EditableSettings):
    kind: Literal["ranking"] = "ranking"
    k: int = Field(4, ge=2, le=20, description="responses to rank")
    allow_ties: bool = False


def ranking_groups(result: dict[str, Any]) -> list[list[str]]:
    """A ranking's places, best first, each the list of response ids tied there."""
    return [[str(x) for x in item] if isinstance(item, list) else [str(item)] for item in result["ranking"]]


class Ranking(Rewritable):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "ranking"
    label = "Ranking"
    settings_model = RankingSettings
    settings_fields: ClassVar[tuple[str, ...]] = (
        "k",
        "allow_ties",
        "queue_order",
        "turn_ratings",
        "turn_scale",
        "edits",
        "edit_max_chars",
    )

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
        top = ranking_groups({"ranking": ranking})[0]  # the rewrite improves the best-ranked response
        return {"ranking": ranking} | clean_rewrites(settings, response_ids, result, top)

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        return {"ranking": parse_ranking(text_of(form, "ranking"), order)} | rewrites_from_form(form)

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    takes_rewrites = True

    def nominal_key(self, result: dict[str, Any]) -> str:
        groups = result.get("ranking") or []
        return ">".join(",".join(sorted(map(str, g))) if isinstance(g, list) else str(g) for g in groups)

    def ordinal_units(
        self, task_id: int, result: dict[str, Any], response_ids: list[str]
    ) -> dict[Unit, float]:
        """One unit per response: its position."""
        return {(task_id, rid): float(pos) for rid, pos in ranking_positions(result).items()}

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        """The share of gold's ordered pairs of responses the answer orders the same way."""
        if not isinstance(gold, dict):
            return None
        mine, want = ranking_positions(result), ranking_positions(gold)
        pairs = [(a, b) for a, b in combinations(sorted(want), 2) if want[a] != want[b]]
        if not pairs:
            return None
        agree = sum(1 for a, b in pairs if (mine.get(a, 0) - mine.get(b, 0)) * (want[a] - want[b]) > 0)
        return agree / len(pairs)

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_options: ClassVar[frozenset[str]] = frozenset({"ties", "pairs"})

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions = DEFAULTS
    ) -> dict[Key, Outcome]:
        order = {rid: i for i, rid in enumerate(ids)}
        position = {rid: rank for rank, group in enumerate(ranking_groups(result)) for rid in group}
        found: dict[Key, Outcome] = {}
        for a, b in combinations(sorted(position, key=order.__getitem__), 2):
            pa, pb = position[a], position[b]
            found[(a, b)] = Outcome(0 if pa == pb else (1 if pa < pb else -1))
        return found

    def kept_pairs(
        self, voters: Sequence[Vote], ids: Sequence[str], options: AggregationOptions
    ) -> set[Key] | None:
        """Adjacent pairs: neighbours in the voters' mean order (Borda); else every pair."""
        if options.pairs != "adjacent":
            return None
        order = {rid: i for i, rid in enumerate(ids)}
        total: Counter[str] = Counter()
        for vote in voters:
            for rank, group in enumerate(ranking_groups(vote.result)):
                for rid in group:
                    total[rid] += rank
        ranked = sorted(total, key=lambda rid: (total[rid], order[rid]))
        return {tuple(sorted((x, y), key=order.__getitem__)) for x, y in pairwise(ranked)}  # type: ignore[misc]

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
    # the judge's order makes a leaderboard board; rounds compare humans with a pairwise judge only
    has_judge_board = True

    def judge_votes(self, response_ids: list[str], suggestion: dict[str, Any]) -> dict[tuple[str, str], int]:
        return self.pair_votes(response_ids, suggestion) if suggestion.get("ranking") else {}

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
