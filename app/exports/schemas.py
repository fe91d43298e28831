"""What an export asks for (DESIGN §6, §10 snapshots). Every field has a default, so `{format}` alone is a
working request for every kind (the aggregation mode defaults to the kind's own); `ExportRequest.for_project`
checks that the format and the options fit the project's kind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.db import DbId
from app.core.errors import InvalidInput
from app.kinds import kind_of
from app.models import Project

# A project takes the formats its kind exports as (Kind.export_formats).
Format = Literal["preference", "sft", "kto", "classification", "stepwise", "raw"]

AGGREGATIONS = {
    "majority": "one row per task (or pair): the answer most annotators gave; a tie for first is dropped",
    "unanimous": "only answers every annotator of the task gave",
    "all": "every annotation as its own row",
    "reviewed": "a reviewer's accepted or corrected label wins; other tasks by majority",
    "quality": "weighted majority: annotators weighted by estimated accuracy (gold, else agreement); "
    "flagged ones (spammer-fast, position-biased, low gold accuracy) left out",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(_Strict):
    reviewed_only: bool = Field(False, description="only annotations a reviewer accepted or corrected")
    date_from: datetime | None = Field(None, description="annotations created at or after")
    date_to: datetime | None = Field(None, description="annotations created before")
    annotators: list[DbId] = Field(default_factory=list, description="only these annotators (user ids)")
    exclude_annotators: list[DbId] = Field(default_factory=list)
    include_gold: bool = Field(False, description="gold tasks are left out unless asked for")

    @field_validator("date_from", "date_to")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A date or time without a zone is read as UTC."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


Mode = Literal["majority", "unanimous", "all", "reviewed", "quality"]


class Aggregation(_Strict):
    mode: Mode = Field(
        "majority",
        description="left out: the kind's own (Kind.default_aggregation): majority, or all for sft",
    )
    min_annotations: int = Field(1, ge=1, le=100)
    min_agreement: float = Field(0.0, ge=0, le=1, description="share of annotators behind the answer")
    ties: Literal["drop", "keep"] = Field(
        "drop", description="keep: tied pairs become rows with tie=true and margin 0 (preference only)"
    )
    pairs: Literal["all", "adjacent"] = Field("all", description="ranking: all k(k-1)/2 pairs or adjacent")
    min_gap: float = Field(1.0, gt=0, description="rating: a pair needs this score gap, else it is a tie")
    criterion: str | None = Field(None, description="rating: score by one criterion (default: their mean)")
    chat: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: chat form when any prompt of the project is a message list"
    )
    sft_style: Literal["auto", "messages", "prompt_completion"] = "auto"
    edit_pairs: Literal["all", "choices", "edits"] = Field(
        "all",
        description="projects with rewrites (edits on), preference and kto: all rows; choices: only the rows "
        "of the annotators' choices (as without rewrites); edits: only the rows of rewrites (edited ≻ each "
        "response; kto: the rewrite desirable, the response it replaced undesirable)",
    )


class Split(_Strict):
    test: float = Field(0.1, ge=0, lt=1)
    validation: float = Field(0.0, ge=0, lt=1)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if self.test + self.validation >= 1:
            raise ValueError("test + validation must leave something for train")
        return self

    @property
    def names(self) -> list[str]:
        return ["train"] + (["validation"] if self.validation else []) + (["test"] if self.test else [])


class ExportRequest(_Strict):
    format: Format
    file_format: Literal["jsonl", "parquet"] = "jsonl"
    gzip: bool = Field(False, description="jsonl only: write .jsonl.gz")
    filters: Filters = Field(default_factory=Filters)
    aggregation: Aggregation = Field(default_factory=Aggregation)
    split: Split = Field(default_factory=Split)

    def for_project(self, project: Project) -> ExportRequest:
        """The request, checked against the project and, where it names no aggregation mode, given the
        kind's default (in place, so what is stored is what ran); InvalidInput names what does not fit."""
        project_kind = kind_of(project)
        if "mode" not in self.aggregation.model_fields_set:
            self.aggregation.mode = cast(Mode, project_kind.default_aggregation)
        allowed = project_kind.export_formats
        if self.format not in allowed:
            raise InvalidInput(
                f"a {project_kind.name} project exports as {', '.join(allowed)}, not {self.format}",
                field="format",
            )
        if self.gzip and self.file_format != "jsonl":
            raise InvalidInput("gzip applies to jsonl files; parquet is compressed already", field="gzip")
        agg = self.aggregation
        if refusal := project_kind.refuse_aggregation(agg.mode):
            raise InvalidInput(refusal, field="aggregation.mode")
        criteria = project_kind.score_criteria(project.settings)
        if agg.criterion is not None and agg.criterion not in criteria:
            raise InvalidInput(
                f"criterion must be one of the rating criteria {criteria}", field="aggregation.criterion"
            )
        if agg.edit_pairs != "all" and not project_kind.exports_rewrites(project.settings):
            raise InvalidInput(
                f"edit_pairs {agg.edit_pairs!r} chooses between choice and rewrite rows, and this "
                f"{project_kind.name} project takes no rewrites (pairwise and ranking projects do when their "
                "edits setting is on): leave edit_pairs at all",
                field="aggregation.edit_pairs",
            )
        return self


class SnapshotCreated(BaseModel):
    snapshot_id: int
    job_id: int
    version: int


class SnapshotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    version: int
    status: str
    format: str
    file_format: str
    filters: dict[str, Any]
    aggregation: dict[str, Any]
    split: dict[str, Any]
    manifest: dict[str, Any]
    job_id: int | None
    created_at: datetime
    deleted_at: datetime | None
