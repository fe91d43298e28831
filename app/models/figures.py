"""Figures kept per task so that a big project's review queue and leaderboard read a few rows, not every
annotation (app/quality/task_figures.py keeps them).

Database triggers (migration 0014) note a task in `stale_tasks` whenever something its figures read changes:
an annotation written, reviewed, edited or deleted, a suggestion written, the task's gold or responses
changed. Every write path is caught, the one-statement submit and cascades included, so no caller has to
remember. Reading the figures first brings the stale tasks up to date. `task_games` holds each task's
comparisons between models; triggers on it keep `project_games`, their sums per project, so the
leaderboard reads one row per (pair of models, outcome)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class StaleTask(Base):
    """A task whose kept figures may no longer fit its answers. No foreign key: a task deleted with its
    answers leaves a row (its answers' deletion noted it), which the next refresh drops."""

    __tablename__ = "stale_tasks"

    project_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)


class TaskFigures(Base):
    """A task's place in the review queue (DESIGN §4.4): its unreviewed answers, how far its counted answers
    disagree, how often they miss its gold, and since when the oldest unreviewed one waits."""

    __tablename__ = "task_figures"
    __table_args__ = (
        # The queue's order, most disagreement first, then most gold misses, then the longest waiting.
        Index(
            "ix_task_figures_queue",
            "project_id",
            text("disagreement DESC"),
            text("gold_miss DESC"),
            "since",
            "task_id",
            postgresql_where=text("pending > 0"),
            sqlite_where=text("pending > 0"),
        ),
    )

    task_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"))
    pending: Mapped[int] = mapped_column(default=0)  # answers not reviewed yet
    answers: Mapped[int] = mapped_column(default=0)  # answers counted (not rejected)
    disagreement: Mapped[float] = mapped_column(default=0.0)
    gold_miss: Mapped[float] = mapped_column(default=0.0)
    since: Mapped[datetime]


class _GameKey:
    """A kind of game: on `board` human or judge, model `a` better than `b` (outcome 1), worse (-1) or level
    (0)."""

    board: Mapped[str] = mapped_column(Text, primary_key=True)
    a: Mapped[str] = mapped_column(Text, primary_key=True)
    b: Mapped[str] = mapped_column(Text, primary_key=True)
    outcome: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class TaskGame(_GameKey, Base):
    """How often the task's answers (board `human`) or its judge (`judge`) made this game."""

    __tablename__ = "task_games"

    task_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(BigIntPK)
    n: Mapped[int]


class ProjectGame(_GameKey, Base):
    """The sum of `task_games` over a project's tasks, kept by triggers on task_games."""

    __tablename__ = "project_games"

    project_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(default=0)


class ProjectCount(Base):
    """A project's tasks, done tasks and annotations, kept by triggers on tasks and annotations in shards
    (a task's id modulo the shard count) so that concurrent submits seldom wait on one row: the counts are
    the sums over the project's shards."""

    __tablename__ = "project_counts"

    project_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(primary_key=True)
    tasks: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    annotations: Mapped[int] = mapped_column(default=0)


class ProjectAnnotator(Base):
    """Who has answered in a project (the review queue's annotator filter), noted by a trigger on
    annotations; a row stays when the person's answers are deleted."""

    __tablename__ = "project_annotators"

    project_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
