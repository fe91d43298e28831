from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["accept", "reject", "correct"]
    result: dict[str, Any] | None = None
    comment: str | None = Field(None, max_length=5000)


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    annotation_id: int
    reviewer_id: int
    verdict: str
    result: dict[str, Any] | None
    comment: str | None
    created_at: datetime


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gold: dict[str, Any] | None = Field(description="the expected result, or null to unmark the task")


class QueueItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    task_id: int
    disagreement: float
    gold_miss: float
    pending: int
    answers: int
    oldest: datetime


class GoldRead(BaseModel):
    id: int
    gold: dict[str, Any] | None


class MemberResumed(BaseModel):
    user_id: int
    paused: bool


# --- the project's figures (app/quality/stats.py); fields in the order the figures are computed --------


class FigureRead(BaseModel):
    value: float | None = Field(description="the estimate; null when nothing supports one")
    low: float | None = Field(description="95 % interval, low end")
    high: float | None = Field(description="95 % interval, high end")
    n: int = Field(description="units (or answers, for a proportion) the figure rests on")


class PositionBiasRead(BaseModel):
    share_first: FigureRead = Field(description="share of choices for the response shown first")
    p_value: float | None = Field(description="two-sided binomial test against 1/2")
    flagged: bool


class ProgressRead(BaseModel):
    tasks: int
    done: int
    share_done: float
    annotations: int
    reviewed: int
    annotators: int


class DayRead(BaseModel):
    day: str
    annotations: int


class AgreementPartRead(BaseModel):
    part: str = Field(description='the part of a task ("step 1", "first wrong step")')
    alpha: FigureRead = Field(description="Krippendorff's alpha (nominal) on that part alone, no interval")
    percent: FigureRead = Field(description="percent agreement on that part alone, no interval")


class AgreementRead(BaseModel):
    sample_units: int = Field(description="tasks with two or more answers the agreement figures rest on")
    alpha_nominal: FigureRead | None
    alpha_ordinal: FigureRead | None = Field(description="for kinds whose answers have an order")
    percent: FigureRead | None
    judge: FigureRead | None = Field(description="annotators against the LLM judge, for kinds with one")
    parts: list[AgreementPartRead] = Field(
        default_factory=list, description="agreement part by part, for kinds whose answers have parts (steps)"
    )


class GoldFigures(BaseModel):
    tasks: int
    answers: int
    accuracy: FigureRead


class TimeRead(BaseModel):
    buckets: list[str]
    counts: list[int]
    median: str | None
    floor_seconds: float = Field(description="answers faster than this count as fast")


class RewritesRead(BaseModel):
    answers: int = Field(description="answers that rewrote the response they preferred")
    tasks: int = Field(description="answered tasks with at least one rewrite")
    tasks_answered: int
    share_of_tasks: float
    measured: int = Field(description="the most recent rewrites whose edit distance was measured")
    median_distance: float | None = Field(description="Levenshtein distance from the original, characters")
    mean_distance: float | None
    median_share_changed: float | None = Field(description="the distance as a share of the original's length")


class AnnotatorFigures(BaseModel):
    user_id: int
    annotations: int
    mean_seconds: float | None
    fast_share: float
    last_active: str | None
    reviewed: int
    time_buckets: list[int]
    name: str | None = Field(description="a pseudonym, unless the project reveals annotators")
    median_time: str | None
    gold: FigureRead
    majority_agreement: FigureRead
    percent_agreement: FigureRead
    alpha_without: float | None = Field(description="the project's alpha without this annotator's answers")
    judge_agreement: FigureRead | None
    position_bias: PositionBiasRead | None
    rewrites: int = Field(0, description="answers with a rewrite (kinds that take rewrites)")
    flags: list[str]
    paused: bool
    paused_reason: str | None


class StatsRead(BaseModel):
    project_id: int
    kind: str
    computed_at: str
    progress: ProgressRead
    throughput: list[DayRead]
    agreement: AgreementRead
    position_bias: PositionBiasRead | None = Field(description="for kinds that show responses side by side")
    gold: GoldFigures
    time: TimeRead
    rewrites: RewritesRead | None = Field(
        None, description="for kinds whose annotators may rewrite responses"
    )
    annotators: list[AnnotatorFigures]
    compute_ms: int
    cached: bool
    stale: bool = Field(description="served as cached while a job recomputes the figures")


class ProjectFigures(BaseModel):
    agreement: AgreementRead
    gold: GoldFigures
    progress: ProgressRead


class OwnFiguresRead(BaseModel):
    me: AnnotatorFigures | None = Field(description="null until the caller has answered")
    project: ProjectFigures
    throughput: list[DayRead] | None = Field(description="the project's, while the caller has no figures")
    computed_at: str
