"""What every project kind provides (the Protocol) and the defaults kinds share (KindBase, Compared).

Everything that differs by project kind lives in one module per kind beside this one; the rest of the
tree asks the kind (`kind_of(project).something(...)`) and never compares kinds itself. The Protocol is
sectioned by the part of Preflab that asks; each kind module keeps the same sections in the same order."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from app.core.errors import InvalidInput
from app.kinds.edits import choice_origin
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

    # ── export ───────────────────────────────────────────────────────────────────────────────────────

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
