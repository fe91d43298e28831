"""The defaults kinds share (KindBase, and Compared for kinds that compare responses). What a kind must
provide is the Protocol in protocol.py; each kind module overrides what differs, section by section."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, SQLColumnExpression

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit, split_share
from app.kinds.edits import choice_origin
from app.kinds.forms import FormFields
from app.kinds.rewrite_rows import (
    CHOICE,
    EDIT,
    Rewrite,
    counted_rewrites,
    edit_kto_rows,
    edit_preference_rows,
    rewrites_left,
    rewrites_on,
)
from app.kinds.rows import (
    KTO_COLUMNS,
    Columns,
    ExportTask,
    RowForm,
    kto_rows,
    preference_columns,
    preference_rows,
    sft_columns,
    sft_rows,
)
from app.kinds.settings import CommonSettings
from app.kinds.turns import TURN, turn_kto_rows, turns_on
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome, Vote, aggregate_pairs, kto_labels

MAX_TEXT = 100_000


def fail(message: str) -> InvalidInput:
    return InvalidInput(f"result: {message}")


def _ids(task: ExportTask) -> list[str]:
    return list(dict.fromkeys(str(r["id"]) for r in task.responses))


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

    def validate_answer(
        self,
        settings: dict[str, Any],
        responses: list[dict[str, Any]],
        result: dict[str, Any],
        prompt: Callable[[], Any],
        meta: Callable[[], dict[str, Any]] = lambda: {},
    ) -> dict[str, Any]:
        """An answer to one task: most kinds need only its response ids (`prompt` reads the task's prompt,
        for kinds whose answers speak to its messages; `meta` its meta, for its tool schemas)."""
        return self.validate_result(settings, [str(r["id"]) for r in responses], result)

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    takes_rewrites: ClassVar[bool] = False
    review_by_part: ClassVar[bool] = False
    has_position_bias: ClassVar[bool] = False
    has_judge: ClassVar[bool] = False
    answer_filter_hint: ClassVar[str | None] = None

    def nominal_key(self, result: dict[str, Any]) -> str:
        raise NotImplementedError

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        return {(task_id, ""): self.nominal_key(result)}

    def agreement_parts(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, dict[Unit, str]]:
        return {}  # agreement is one figure for the whole task

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

    def exports_rewrites(self, settings: dict[str, Any]) -> bool:
        return False

    def export_sources(self, export_format: str, form: RowForm) -> tuple[str, ...]:
        return ()

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

    live_chat: ClassVar[bool] = False  # annotators hold live chats whose turns become tasks (app/chat)

    @property
    def page_kind(self) -> str:
        """The kind whose page parts (templates, script) show this kind's tasks: its own."""
        return self.name

    def template(self, part: str) -> str:
        """The kind's own template for one part of a page: templates/kinds/<kind>/<part>.html."""
        return f"kinds/{self.page_kind}/{part}.html"

    def shown_prompt(self, prompt: Any) -> Any:
        return prompt  # the prompt card shows all of it

    @property
    def script(self) -> str:
        return f"kinds/{self.page_kind}.js"


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

    def export_sources(self, export_format: str, form: RowForm) -> tuple[str, ...]:
        return (CHOICE, TURN) if export_format == "kto" and turns_on(form.settings) else ()

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        if export_format == "kto":  # rated turns add rows of their own: each row says where it is from
            return [*KTO_COLUMNS, ("source", "string")] if turns_on(form.settings) else list(KTO_COLUMNS)
        return preference_columns(form, margin=self.pair_margin, scores=self.pair_scores)

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        if export_format == "kto":
            return self.with_turns(
                kto_rows(task, self.choice_labels(task, form, dropped), form), task, form, dropped
            )
        pairs = aggregate_pairs(self, form.options, _ids(task), task.votes, dropped)
        return preference_rows(task, pairs, form, margin=self.pair_margin, scores=self.pair_scores)

    def with_turns(
        self, rows: list[dict[str, Any]], task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """KTO rows with the rows of the task's rated turns, where the project rates turns."""
        if not turns_on(form.settings):
            return rows
        return [{"source": CHOICE, **row} for row in rows] + turn_kto_rows(task, form, dropped)

    def choice_labels(self, task: ExportTask, form: RowForm, dropped: Counter[str]) -> list[tuple[str, bool]]:
        """KTO: (response id, desirable) as the kept pairs say; in "all" each annotation labels its own."""
        groups = [[v] for v in task.votes] if form.options.mode == "all" else [task.votes]
        ids = _ids(task)
        return [
            label
            for group in groups
            for label in kto_labels(aggregate_pairs(self, form.options, ids, group, dropped))
        ]

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


class Rewritable(Compared):
    """Compared kinds whose annotators may rewrite the response they prefer (pairwise, ranking; see
    app/kinds/rewrites.py): their exports rank a rewrite above every response of its task. Where the
    project's edits setting is off their exports are Compared's, column for column."""

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("preference", "kto", "sft", "raw")

    def exports_rewrites(self, settings: dict[str, Any]) -> bool:
        return rewrites_on(settings)

    def export_sources(self, export_format: str, form: RowForm) -> tuple[str, ...]:
        if not rewrites_on(form.settings) or export_format == "raw":
            return super().export_sources(export_format, form)
        if export_format == "sft":
            return (EDIT,)
        return (CHOICE, EDIT, TURN) if export_format == "kto" and turns_on(form.settings) else (CHOICE, EDIT)

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        if export_format == "sft":
            return sft_columns(form)
        columns = super().export_columns(export_format, form)
        sourced = rewrites_on(form.settings) and ("source", "string") not in columns
        return [*columns, ("source", "string")] if sourced else columns

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        if not rewrites_on(form.settings):
            if left := rewrites_left(task):
                dropped["rewrite while the project's edits setting is off"] += left
            if export_format == "sft":
                dropped["no rewrite"] += 1
                return []
            return super().export_rows(export_format, task, form, dropped)
        which = "edits" if export_format == "sft" else form.options.edit_pairs
        rewrites: list[Rewrite] = []
        if which != "choices":
            rewrites = counted_rewrites(task, form, dropped, alone=which == "edits") or []
        if export_format == "sft":
            return sft_rows(task.prompt, [r.text for r in rewrites], form)
        if export_format == "kto":
            return self._kto_rows(task, rewrites, form, dropped)
        choices = [] if which == "edits" else super().export_rows(export_format, task, form, dropped)
        return [row | {"source": CHOICE} for row in choices] + edit_preference_rows(
            task, rewrites, form, dropped, margin=self.pair_margin, scores=self.pair_scores
        )

    def _kto_rows(
        self, task: ExportTask, rewrites: list[Rewrite], form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """A response a rewrite replaced is labeled undesirable by it alone: its choice label (desirable,
        as the preferred one) goes, so no response of the task carries both."""
        rows: list[dict[str, Any]] = []
        if form.options.edit_pairs != "edits":
            replaced = {r.response_id for r in rewrites}
            labels = [(rid, ok) for rid, ok in self.choice_labels(task, form, dropped) if rid not in replaced]
            rows = [row | {"source": CHOICE} for row in kto_rows(task, labels, form)]
        return self.with_turns(rows + edit_kto_rows(task, rewrites, form), task, form, dropped)
