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
    has_judge_board: ClassVar[bool] = False

    def pair_votes(self, response_ids: list[str], result: dict[str, Any]) -> dict[tuple[str, str], int]:
        return {}  # answers that compare no responses say nothing about pairs

    def judge_votes(self, response_ids: list[str], suggestion: dict[str, Any]) -> dict[tuple[str, str], int]:
        return {}

    def judge_prefers(self, suggestion: dict[str, Any], pair: tuple[str, str]) -> str | None:
        return None

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
