"""What every project kind provides (the Protocol) and the defaults kinds share (KindBase, Compared).

Everything that differs by project kind lives in one module per kind beside this one; the rest of the
tree asks the kind (`kind_of(project).something(...)`) and never compares kinds itself. The Protocol is
sectioned by the part of Preflab that asks; each kind module keeps the same sections in the same order."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from app.core.errors import InvalidInput
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

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    # Templates never name a kind: they include the kind's own parts and ask these questions.
    def template(self, part: str) -> str: ...
    @property
    def script(self) -> str:
        """The annotate page's behaviour for this kind, under static/."""
        ...

    @property
    def suggests_answers(self) -> bool:
        """An LLM suggests this kind's answer (a label, a judge's choice, a draft) that annotators see beside
        the task and reviewers accept or correct."""
        ...

    @property
    def picks_from_a_pair(self) -> bool:
        """A task shows two responses side by side and an answer picks one (position bias, judge columns)."""
        ...

    @property
    def ordinal_label(self) -> str:
        """What the dashboard's ordinal alpha compares, when it is not plain ordinal codes."""
        ...

    @property
    def answer_filter_hint(self) -> str:
        """What the review queue's answer filter matches; empty where the queue has no such filter."""
        ...

    @property
    def default_export_mode(self) -> str:
        """The aggregation the export form proposes."""
        ...


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

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    suggests_answers: ClassVar[bool] = True
    picks_from_a_pair: ClassVar[bool] = False
    ordinal_label: ClassVar[str] = ""
    answer_filter_hint: ClassVar[str] = ""
    default_export_mode: ClassVar[str] = "majority"

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

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────
