"""Project settings are validated per kind: every setting has a default, so {name, kind} is enough."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from app.models import ProjectKind, Role

LLAMA2_STRENGTH = ["Negligibly better / unsure", "Slightly better", "Better", "Significantly better"]


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(1, ge=1, le=50, description="annotations wanted per task")
    lease_minutes: int = Field(10, ge=1, le=24 * 60)
    show_suggestions: bool = True
    gold_rate: float = Field(0.0, ge=0, le=1, description="share of claims that serve a gold task")
    # quality
    reveal_annotators: bool = Field(False, description="reviewers see annotators' names, not pseudonyms")
    min_seconds_per_task: float = Field(2.0, ge=0, le=3600, description="faster answers are flagged")
    auto_pause: bool = Field(False, description="pause annotators whose gold accuracy falls too low")
    gold_min_accuracy: float = Field(0.6, ge=0, le=1)
    gold_min_answers: int = Field(5, ge=1, le=1000, description="gold answers before accuracy counts")


class _Compared(_Common):
    """Kinds whose tasks compare responses: a reward model can score them and order the queue."""

    queue_order: Literal["priority", "margin", "disagreement", "random"] = Field(
        "priority", description="which open task the queue serves first (app/loop/priority.py)"
    )


def _distinct(values: list[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values if v.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"{what} must be distinct")
    return cleaned


class PairwiseSettings(_Compared):
    kind: Literal["pairwise"] = "pairwise"
    allow_ties: bool = True
    strength_scale: list[str] = Field(default_factory=lambda: list(LLAMA2_STRENGTH), max_length=10)
    criteria: list[str] = Field(default_factory=list, max_length=10)
    rationale: Literal["off", "optional", "required"] = "optional"

    _criteria = field_validator("criteria")(lambda v: _distinct(v, "criteria"))


class RankingSettings(_Compared):
    kind: Literal["ranking"] = "ranking"
    k: int = Field(4, ge=2, le=20, description="responses to rank")
    allow_ties: bool = False


class RatingSettings(_Compared):
    kind: Literal["rating"] = "rating"
    scale_min: int = Field(1, ge=0, le=10)
    scale_max: int = Field(5, ge=1, le=100)
    criteria: list[str] = Field(default_factory=lambda: ["overall"], min_length=1, max_length=10)

    _criteria = field_validator("criteria")(lambda v: _distinct(v, "criteria"))

    @model_validator(mode="after")
    def _scale(self) -> RatingSettings:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be greater than scale_min")
        return self


class SftSettings(_Common):
    kind: Literal["sft"] = "sft"
    show_draft_diff: bool = True


class ClassificationSettings(_Common):
    kind: Literal["classification"] = "classification"
    labels: list[str] = Field(
        default_factory=lambda: ["positive", "negative", "neutral"], min_length=2, max_length=200
    )
    multi_label: bool = False

    _labels = field_validator("labels")(lambda v: _distinct(v, "labels"))


ProjectSettings = Annotated[
    PairwiseSettings | RankingSettings | RatingSettings | SftSettings | ClassificationSettings,
    Field(discriminator="kind"),
]
_settings_adapter: TypeAdapter[Any] = TypeAdapter(ProjectSettings)


def validate_settings(kind: ProjectKind | str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validated settings with every default filled in (raises pydantic.ValidationError)."""
    data = dict(raw or {})
    data["kind"] = str(ProjectKind(kind))
    validated = _settings_adapter.validate_python(data)
    return validated.model_dump(mode="json")


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: ProjectKind
    instructions: str = Field("", max_length=100_000)
    settings: dict[str, Any] = Field(default_factory=dict)
    is_private: bool = False

    @model_validator(mode="after")
    def _settings_fit_kind(self) -> ProjectCreate:
        self.settings = validate_settings(self.kind, self.settings)
        return self


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    instructions: str | None = Field(None, max_length=100_000)
    settings: dict[str, Any] | None = None
    is_private: bool | None = None
    archived: bool | None = None


class ProjectRead(BaseModel):
    id: int
    name: str
    kind: ProjectKind
    instructions: str
    settings: dict[str, Any]
    is_private: bool
    archived: bool
    created_at: datetime
    task_count: int
    annotation_count: int
    done_count: int
    progress: float = Field(description="share of tasks whose overlap is filled")
    my_role: str | None = None


class MemberSet(BaseModel):
    role: Literal["annotator", "reviewer", "lead"]


class MemberRead(BaseModel):
    user_id: int
    email: str
    name: str
    role: str


ROLE_NAMES = [r.name for r in Role]
