"""What every project kind provides: the Protocol the rest of the tree programs against.

Everything that differs by project kind lives in one module per kind beside this one (base.py holds the
defaults they share); the rest of the tree asks the kind (`kind_of(project).something(...)`) and never
compares kinds itself. The Protocol is sectioned by the part of Preflab that asks; each kind module keeps
the same sections in the same order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression

from app.kinds.agreement import Unit
from app.kinds.forms import FormFields
from app.kinds.rows import (
    Columns,
    ExportTask,
    RowForm,
)
from app.kinds.settings import CommonSettings
from app.kinds.votes import DEFAULTS, AggregationOptions, Key, Outcome


class Kind(Protocol):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    # Read-only members (properties here, class attributes in the kinds).
    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str:
        """What people call it ("Pairwise comparison")."""
        ...

    @property
    def settings_model(self) -> type[CommonSettings]: ...
    @property
    def settings_fields(self) -> tuple[str, ...]:
        """The kind's own fields on the settings form, in order."""
        ...

    @property
    def compares_responses(self) -> bool:
        """Answers prefer one response over another (scoring, leaderboard, queue order)."""
        ...

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        """The result in canonical form, or InvalidInput naming what is wrong."""
        ...

    def validate_answer(
        self,
        settings: dict[str, Any],
        responses: list[dict[str, Any]],
        result: dict[str, Any],
        prompt: Callable[[], Any],
        meta: Callable[[], dict[str, Any]] = ...,
    ) -> dict[str, Any]:
        """An answer to one task in canonical form (validate_result on its response ids, for kinds whose
        answers do not speak to the task's messages), or InvalidInput; `prompt` reads the task's prompt,
        `meta` its meta (the task's tool schemas, where a kind's answers call tools)."""
        ...

    def validate_settings(self, raw: dict[str, Any] | None) -> dict[str, Any]: ...

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        """A result from a page's fields (`order`: response ids in the order shown); validated after."""
        ...

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    @property
    def takes_rewrites(self) -> bool:
        """Annotators may rewrite the response they prefer (app/kinds/rewrites.py): the dashboard counts
        the rewrites."""
        ...

    @property
    def review_by_part(self) -> bool:
        """The review page sets a task's answers side by side, part by part (the kind's review.html
        `by_part(answers)`): a trajectory's steps."""
        ...

    @property
    def has_position_bias(self) -> bool:
        """Answers pick one of two responses shown side by side, so the side shown first can sway them."""
        ...

    @property
    def has_judge(self) -> bool:
        """An LLM judge answers these tasks as an annotator does, so annotators can be compared with it."""
        ...

    @property
    def answer_filter_hint(self) -> str | None:
        """What the review queue's answer filter takes ("a label"); None: the kind has no such filter."""
        ...

    def nominal_key(self, result: dict[str, Any]) -> str:
        """What two annotators must both say to agree (strength and rationale aside)."""
        ...

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        """The units one answer gives a nominal value to, and those values."""
        ...

    def agreement_parts(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, dict[Unit, str]]:
        """One answer's nominal units by the part of a task they speak to ("step 1", "step 2", …), for the
        dashboard's agreement part by part; {} where agreement is one figure for the whole task."""
        ...

    def ordinal_units(
        self, task_id: int, result: dict[str, Any], response_ids: list[str]
    ) -> dict[Unit, float]:
        """The units one answer gives an ordinal value to (ordinal alpha); none for kinds without order."""
        ...

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        """1.0 for the gold answer, 0.0 for a wrong one, partial credit where the kind has degrees; None
        when gold does not apply."""
        ...

    def disagreement(self, results: list[dict[str, Any]]) -> float:
        """How split a task's answers are, for the review queue: 0 when they all agree."""
        ...

    def answer_filter(self, result: SQLColumnExpression[Any], answer: str) -> ColumnElement[bool] | None:
        """SQL: a stored result (a JSON column) gives this answer; None when the kind has no answer filter."""
        ...

    def position_choice(
        self, result: SQLColumnExpression[Any], order: SQLColumnExpression[Any]
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """SQL, for kinds with position bias: (the answer chose the response shown first, it chose a side)."""
        ...

    def agrees_with_judge(
        self, result: SQLColumnExpression[Any], judged: SQLColumnExpression[Any]
    ) -> ColumnElement[bool]:
        """SQL, for kinds with a judge: an annotator's result says what the judge's says."""
        ...

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    @property
    def export_formats(self) -> tuple[str, ...]:
        """The formats a project of this kind exports as ("raw", every answer as stored, included)."""
        ...

    @property
    def default_aggregation(self) -> str:
        """The aggregation mode that fits the kind's answers (the export form starts on it)."""
        ...

    @property
    def export_options(self) -> frozenset[str]:
        """The aggregation options beyond the common ones that mean something for this kind, of "ties",
        "pairs", "min_gap" and "criterion" (the export form shows those)."""
        ...

    def refuse_aggregation(self, mode: str) -> str | None:
        """Why this kind's answers cannot be aggregated by `mode`; None when they can."""
        ...

    def score_criteria(self, settings: dict[str, Any]) -> list[str]:
        """The criteria an export may score by (aggregation.criterion); none for most kinds."""
        ...

    def pair_outcomes(
        self, ids: Sequence[str], result: dict[str, Any], options: AggregationOptions = DEFAULTS
    ) -> dict[Key, Outcome]:
        """One answer's verdict on every pair of the task's responses it speaks to (`ids` in task order);
        empty for kinds that do not compare responses."""
        ...

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        """The columns of the kind's rows in one of its formats (not "raw", which every kind shares)."""
        ...

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """The rows one annotated task becomes; what is left out is counted in `dropped` by reason."""
        ...

    def exports_rewrites(self, settings: dict[str, Any]) -> bool:
        """The project's exports write its annotators' rewrites (edited ≻ chosen ≻ rejected) beside their
        choices, so the `edit_pairs` option means something for it."""
        ...

    def export_sources(self, export_format: str, form: RowForm) -> tuple[str, ...]:
        """Where the rows of a format come from ("choice", "edit"), counted in the manifest's rows_by_source;
        with several, each row names its own in a `source` column. () where rows have no source to count."""
        ...

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    @property
    def prelabel_modes(self) -> tuple[str, ...]:
        """The pre-label modes (app/prelabel/modes.py) a project of this kind offers, in menu order."""
        ...

    @property
    def review_mode(self) -> str | None:
        """The mode of the suggestions reviewers work from; None when pre-labels leave nothing to review
        (generated responses)."""
        ...

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        """How many responses a generate job fills a task up to (`requested`: the job's k, if it gave one)."""
        ...

    def judged_responses(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The responses of a task that a judge compares."""
        ...

    def judge_schema(self, settings: dict[str, Any], letters: list[str]) -> dict[str, Any]:
        """The judge's question: the JSON-schema properties of its answer about the responses shown under
        `letters`. InvalidInput where the kind has no judge."""
        ...

    def label_schema(self, settings: dict[str, Any]) -> dict[str, Any]:
        """What a label request asks for: the JSON-schema properties of the answer."""
        ...

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        """A suggestion's result taken as the reviewer's answer, or InvalidInput saying why it cannot be
        taken as it is (the reviewer then edits it)."""
        ...

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        """(origin, edit distance) of a reviewer's result against the suggestion it started from."""
        ...

    def suggestion_agrees(self, suggestion: dict[str, Any], answer: dict[str, Any]) -> bool:
        """Whether a person's independent answer agrees with a suggestion (the LLM-human agreement)."""
        ...

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
    @property
    def has_judge_board(self) -> bool:
        """The LLM judge compares this kind's responses: the leaderboard has a board from its votes."""
        ...

    def pair_votes(self, response_ids: list[str], result: dict[str, Any]) -> dict[tuple[str, str], int]:
        """A human answer as votes on pairs of responses ((x, y) in response order): +1 x better, -1 y
        better, 0 a tie. The leaderboard's games and the rounds' agreement figures count these."""
        ...

    def judge_votes(self, response_ids: list[str], suggestion: dict[str, Any]) -> dict[tuple[str, str], int]:
        """The LLM judge's suggestion as pair votes, for the judge's leaderboard board; {} when the
        suggestion holds no verdict."""
        ...

    def judge_prefers(self, suggestion: dict[str, Any], pair: tuple[str, str]) -> str | None:
        """The response of `pair` the judge's suggestion prefers, for the rounds' humans-vs-judge figure;
        None when it prefers neither of the two."""
        ...

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    # Templates never name a kind: they include the kind's own parts and ask these questions.
    @property
    def live_chat(self) -> bool:
        """Annotators hold live chats with the project's models; each picked turn is a task (app/chat)."""
        ...

    @property
    def page_kind(self) -> str:
        """The kind whose page parts show this kind's tasks (a chat project's turns are pairwise tasks)."""
        ...

    def template(self, part: str) -> str: ...
    def shown_prompt(self, prompt: Any) -> Any:
        """What the annotate page's prompt card shows of a task's prompt: all of it, unless the kind's own
        controls show part of it (a trajectory's steps)."""
        ...

    @property
    def script(self) -> str:
        """The annotate page's behaviour for this kind, under static/."""
        ...

    @property
    def ordinal_label(self) -> str:
        """What the dashboard's ordinal alpha compares, when it is not plain ordinal codes."""
        ...
