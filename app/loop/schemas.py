"""What the loop's API reads and answers: rounds, the scoring summary and the leaderboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.db import DbId


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    notes: str = Field("", max_length=10_000)


class RoundUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=10_000)
    snapshot_id: DbId | None = None
    reward_model_id: DbId | None = None
    policy_model_id: DbId | None = None


class ScoringStarted(BaseModel):
    job_id: int
    tasks: int = Field(description="how many tasks the job will consider")


# ------------------------------------------------------------------------------------------ leaderboard


class BoardRow(BaseModel):
    model: str
    score: float = Field(description="Elo-like strength: 1000 is the mean model")
    low: float | None = Field(description="bootstrap 95 % interval")
    high: float | None
    games: int
    wins: int
    losses: int
    ties: int


class Board(BaseModel):
    models: list[BoardRow] = Field(description="strongest first; empty with fewer than two models")
    matrix: dict[str, dict[str, float]] = Field(
        description="observed win rate of the row model over the column model, a tie counting half"
    )
    games: int
    tie_parameter: float | None = Field(description="Davidson's nu; 0 without ties")
    interval_games: int | None = Field(
        None,
        description="the games the intervals' bootstrap was drawn from: while votes arrive, a recent "
        "bootstrap's spread is reused around the current strengths (at most a minute old, within 5 % of the "
        "games), so a board costs one fit",
    )


class Leaderboard(BaseModel):
    human: Board = Field(description="from the annotators' votes")
    judge: Board = Field(description="from the LLM judge's suggestions")


# ------------------------------------------------------------------------------------------ scoring


class ScoringModel(BaseModel):
    """The reward model a scoring job used, as the job recorded it."""

    id: int
    name: str
    path: str | None = None


class MarginDistribution(BaseModel):
    """Reward margins of the scored tasks; the summary figures are absent when none was scored."""

    count: int
    min: float | None = None
    median: float | None = None
    p90: float | None = None
    max: float | None = None
    bins: list[tuple[float, float, int]] = Field(description="[low, high, tasks] per equal-width bin")


class LatestScores(BaseModel):
    job_id: int
    finished_at: datetime | None
    model: ScoringModel | None
    scored: int
    skipped: int = Field(description="tasks with fewer than two responses")
    distribution: MarginDistribution


class LoopJob(BaseModel):
    id: int
    kind: str
    status: str
    progress: float


class LoopSummary(BaseModel):
    scorable: bool = Field(description="the project's tasks compare responses a reward model can score")
    rule: str = Field(description="the queue_order setting")
    rule_help: str
    ordered_open_tasks: int = Field(description="open tasks whose priority the loop set")
    scores: LatestScores | None = Field(description="the latest succeeded scoring job's")
    running: list[LoopJob] = Field(description="scoring and ordering jobs queued or running")


# ------------------------------------------------------------------------------------------ rounds


class RoundSnapshot(BaseModel):
    id: int
    version: int
    format: str
    rows: dict[str, int] = Field(description="the snapshot's rows by split")
    tied: bool = Field(description="tied to the round by a lead, not the latest in its window")


class RoundModel(BaseModel):
    id: int
    name: str
    method: str
    accuracy: float | None = Field(description="evaluation accuracy, when the training run measured one")
    eval_loss: float | None


class RoundJob(BaseModel):
    id: int
    kind: str
    status: str
    mode: str | None


class RoundRead(BaseModel):
    id: int
    number: int
    name: str
    notes: str
    started_at: datetime
    closed_at: datetime | None
    open: bool
    snapshot: RoundSnapshot | None
    reward_model: RoundModel | None
    policy_model: RoundModel | None
    jobs: list[RoundJob]
    # Open on purpose: a closed round keeps the figures as they were computed when it closed.
    metrics: dict[str, Any] = Field(
        description="annotations, tasks_labelled, annotators, tasks_created, percent_agreement, alpha; for "
        "projects that compare responses also judge_agreement, reward_agreement (figures: value, low, high, "
        "n), reward_models, leaderboard (the top five rows) and games"
    )


class RoundList(BaseModel):
    items: list[RoundRead]
