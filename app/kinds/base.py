"""What every project kind provides (the Protocol) and the defaults kinds share (KindBase, Compared).

Everything that differs by project kind lives in one module per kind beside this one; the rest of the
tree asks the kind (`kind_of(project).something(...)`) and never compares kinds itself. The Protocol is
sectioned by the part of Preflab that asks; each kind module keeps the same sections in the same order."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel
from sqlalchemy import ColumnElement, SQLColumnExpression

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit, split_share
from app.kinds.forms import FormFields
from app.kinds.settings import CommonSettings

MAX_TEXT = 100_000


def fail(message: str) -> InvalidInput:
    return InvalidInput(f"result: {message}")


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

    def validate_settings(self, raw: dict[str, Any] | None) -> dict[str, Any]: ...

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        """A result from a page's fields (`order`: response ids in the order shown); validated after."""
        ...

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
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

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────


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

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    def template(self, part: str) -> str:
        """The kind's own template for one part of a page: templates/kinds/<kind>/<part>.html."""
        return f"kinds/{self.name}/{part}.html"


class Compared(KindBase):
    """Kinds whose answers compare a task's responses (pairwise, ranking, rating)."""

    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    compares_responses: ClassVar[bool] = True

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
