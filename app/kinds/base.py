"""The defaults kinds share (KindBase, and Compared for kinds that compare responses). What a kind must
provide is the Protocol in protocol.py; each kind module overrides what differs, section by section."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, SQLColumnExpression

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit, split_share
from app.kinds.edits import choice_origin
from app.kinds.forms import FormFields
from app.kinds.rows import (
    KTO_COLUMNS,
    Columns,
    ExportTask,
    RowForm,
    kto_rows,
    preference_columns,
    preference_rows,
)
from app.kinds.settings import CommonSettings
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome, Vote, aggregate_pairs

MAX_TEXT = 100_000


def fail(message: str) -> InvalidInput:
    return InvalidInput(f"result: {message}")


class KindBase:
    """Defaults for kinds; a kind module overrides what differs."""

    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name: ClassVar[str]
    label: ClassVar[str]
    settings_model: ClassVar[type[CommonSettings]]
    settings_fields: ClassVar[tuple[str, ...]] = ()
    compares_responses: ClassVar[bool] = False

    def validate_settings(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Validated settings with every default filled in (raises pydantic.ValidationError)."""
        data = {**(raw or {}), "kind": self.name}
        model: type[BaseModel] = self.settings_model
        return model.model_validate(data).model_dump(mode="json")

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    has_position_bias: ClassVar[bool] = False
    has_judge: ClassVar[bool] = False
    answer_filter_hint: ClassVar[str | None] = None

    def nominal_key(self, result: dict[str, Any]) -> str:
        raise NotImplementedError

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        return {(task_id, ""): self.nominal_key(result)}

    def ordinal_units(
        self, task_id: int, result: dict[str, Any], response_ids: list[str]
    ) -> dict[Unit, float]:
        return {}

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        """Right or wrong: the nominal answers match."""
        if not isinstance(gold, dict):
            return None
        return 1.0 if self.nominal_key(result) == self.nominal_key(gold) else 0.0

    def disagreement(self, results: list[dict[str, Any]]) -> float:
        return split_share(self.nominal_key(r) for r in results)

    def answer_filter(self, result: SQLColumnExpression[Any], answer: str) -> ColumnElement[bool] | None:
        return None

    def position_choice(
        self, result: SQLColumnExpression[Any], order: SQLColumnExpression[Any]
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        raise NotImplementedError(f"{self.name} answers have no position bias")

    def agrees_with_judge(
        self, result: SQLColumnExpression[Any], judged: SQLColumnExpression[Any]
    ) -> ColumnElement[bool]:
        raise NotImplementedError(f"{self.name} tasks have no judge")

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("raw",)
    default_aggregation: ClassVar[str] = "majority"
    export_options: ClassVar[frozenset[str]] = frozenset()

    def refuse_aggregation(self, mode: str) -> str | None:
        return None

    def score_criteria(self, settings: dict[str, Any]) -> list[str]:
        return []

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions = DEFAULTS
    ) -> dict[Key, Outcome]:
        return {}

    def kept_pairs(
        self, voters: Sequence[Vote], ids: Sequence[str], options: AggregationOptions
    ) -> set[Key] | None:
        """The pairs an export keeps of a task's answers; None: every pair they speak to."""
        return None

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        raise NotImplementedError(f"{self.name} does not export as {export_format}")

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        raise NotImplementedError(f"{self.name} does not export as {export_format}")

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ()
    review_mode: ClassVar[str | None] = None

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        return requested if requested is not None else 2

    def judged_responses(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return responses

    def judge_schema(self, settings: dict[str, Any], letters: list[str]) -> dict[str, Any]:
        raise InvalidInput(f"a {self.name} project has no judge: it compares no responses")

    def label_schema(self, settings: dict[str, Any]) -> dict[str, Any]:
        raise InvalidInput(f"a {self.name} project has no labels to predict")

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        raise InvalidInput(f"a {self.name} project has no pre-labels to accept")

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        raise NotImplementedError

    def suggestion_agrees(self, suggestion: dict[str, Any], answer: dict[str, Any]) -> bool:
        return False

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
    has_judge_board: ClassVar[bool] = False

    def pair_votes(self, response_ids: list[str], result: dict[str, Any]) -> dict[tuple[str, str], int]:
        return {}  # answers that compare no responses say nothing about pairs

    def judge_votes(self, response_ids: list[str], suggestion: dict[str, Any]) -> dict[tuple[str, str], int]:
        return {}

    def judge_prefers(self, suggestion: dict[str, Any], pair: tuple[str, str]) -> str | None:
        return None

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    ordinal_label: ClassVar[str] = ""

    def template(self, part: str) -> str:
        """The kind's own template for one part of a page: templates/kinds/<kind>/<part>.html."""
        return f"kinds/{self.name}/{part}.html"

    @property
    def script(self) -> str:
        return f"kinds/{self.name}.js"


class Compared(KindBase):
    """Kinds whose answers compare a task's responses (pairwise, ranking, rating)."""

    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    compares_responses: ClassVar[bool] = True

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("preference", "kto", "raw")
    export_options: ClassVar[frozenset[str]] = frozenset({"ties"})
    pair_margin: ClassVar[bool] = False  # preference rows carry a margin (how much better chosen is)
    pair_scores: ClassVar[bool] = False  # preference rows carry the two responses' scores

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        if export_format == "kto":
            return list(KTO_COLUMNS)
        return preference_columns(form, margin=self.pair_margin, scores=self.pair_scores)

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(str(r["id"]) for r in task.responses))
        if export_format == "kto":
            # 'all': each annotation labels its own responses
            groups = [[v] for v in task.votes] if form.options.mode == "all" else [task.votes]
            return [
                row
                for group in groups
                for row in kto_rows(task, aggregate_pairs(self, form.options, ids, group, dropped), form)
            ]
        pairs = aggregate_pairs(self, form.options, ids, task.votes, dropped)
        return preference_rows(task, pairs, form, margin=self.pair_margin, scores=self.pair_scores)

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    def judge_schema(self, settings: dict[str, Any], letters: list[str]) -> dict[str, Any]:
        """Two responses: which is better, or a tie where the project allows ties; more: their order."""
        if len(letters) == 2:
            options = letters + (["tie"] if settings.get("allow_ties", True) else [])
            judged: dict[str, Any] = {"choice": {"type": "string", "enum": options}}
        else:
            judged = {"ranking": {"type": "array", "items": {"type": "string", "enum": letters}}}
        return {**judged, "rationale": {"type": "string"}, "confidence": {"type": "number"}}

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        return choice_origin(suggestion, result)

    def suggestion_agrees(self, suggestion: dict[str, Any], answer: dict[str, Any]) -> bool:
        return bool(suggestion.get("choice") == answer.get("choice"))

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
    def pair_votes(self, response_ids: list[str], result: dict[str, Any]) -> dict[tuple[str, str], int]:
        """The verdicts an export reads with its default options (pair_outcomes), as signs."""
        return {pair: o.sign for pair, o in self.pair_outcomes(response_ids, result).items()}
