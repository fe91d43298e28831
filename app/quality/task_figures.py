"""The figures kept per task (app/models/figures.py): each task's place in the review queue and its games
between models, brought up to date from the task's answers whenever triggers noted the task stale.

`refresh` takes the project's stale tasks off `stale_tasks` and recomputes them from scratch: a task's
figures never depend on what they were before, so a refresh interrupted, repeated or run twice at once
leaves the same figures. Taking a task off comes first, in the transaction that writes its figures: an
answer committed meanwhile notes the task again (on PostgreSQL its note waits for this transaction), so
the next refresh sees it. A page that reads the figures refreshes up to INLINE tasks first (the answers
that arrived since the last read, on a busy project); a backlog beyond that (an upgrade, a bulk change)
is left to the stats job, and the page says the order is catching up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.kinds.games import games_of, response_ids
from app.models import Annotation, Project, StaleTask, Suggestion, Task, TaskFigures, TaskGame

CHUNK = 2000  # tasks recomputed per round of statements
INLINE = 4000  # stale tasks a page brings up to date before it reads; the stats job does the rest
ROWS_PER_INSERT = 5000  # rows per statement on PostgreSQL


def refresh(session: Session, project: Project, *, limit: int | None = None) -> int:
    """Recompute the project's stale tasks (at most `limit`); returns how many were recomputed. Tasks are
    taken in id order from past the last one taken: rows deleted by this transaction stay in the index
    until it ends, and a scan from the start would step over all of them again for every chunk."""
    done, last = 0, 0
    while limit is None or done < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - done)
        picked = (
            select(StaleTask.task_id)
            .where(StaleTask.project_id == project.id, StaleTask.task_id > last)
            .order_by(StaleTask.task_id)
            .limit(size)
        )
        ids = sorted(
            session.scalars(
                delete(StaleTask)
                .where(StaleTask.project_id == project.id, StaleTask.task_id.in_(picked))
                .returning(StaleTask.task_id)
            )
        )
        if not ids:
            break
        recompute(session, project, ids)
        done, last = done + len(ids), ids[-1]
        if len(ids) < size:
            break
    return done


def stale_count(session: Session, project: Project) -> int:
    return int(
        session.scalar(select(func.count()).select_from(StaleTask).where(StaleTask.project_id == project.id))
        or 0
    )


def up_to_date(session: Session, project: Project) -> bool:
    """Before reading the figures: refresh up to INLINE stale tasks; False when more are left (the stats
    job is asked for them)."""
    if refresh(session, project, limit=INLINE) < INLINE or not stale_count(session, project):
        return True
    from app.quality.stats import request_refresh  # the stats job refreshes the rest

    request_refresh(session, project)
    return False


def queue_figures(project: Project, gold: Any, answers: list[Any]) -> dict[str, Any]:
    """A task's review figures from its counted answers (rows with result, status, created_at): disagreement
    is the kind's (1 - the share of the most common answer), the gold miss rate over answers gold can score,
    the oldest unreviewed answer's time (or the oldest answer's)."""
    kind = kind_of(project)
    scores = [kind.gold_score(a.result, gold, project.settings) for a in answers]
    known = [s for s in scores if s is not None]
    waiting: list[datetime] = [a.created_at for a in answers if a.status == "submitted"]
    return {
        "pending": len(waiting),
        "answers": len(answers),
        "disagreement": float(kind.disagreement([a.result for a in answers])),
        "gold_miss": 1 - sum(known) / len(known) if known else 0.0,
        "since": min(waiting) if waiting else min(a.created_at for a in answers),
    }


def task_games(
    project: Project, responses: list[Any], results: Iterable[dict[str, Any]], *, judge: bool
) -> Counter[tuple[str, str, int]]:
    """The games a task's answers (or its judge's suggestions) make between its responses' models."""
    kind = kind_of(project)
    ids = response_ids(responses)
    tally: Counter[tuple[str, str, int]] = Counter()
    for result in results:
        votes = kind.judge_votes(ids, result) if judge else kind.pair_votes(ids, result)
        tally.update((g.a, g.b, g.outcome) for g in games_of(responses, votes))
    return tally


def recompute(session: Session, project: Project, task_ids: list[int]) -> None:
    """Write these tasks' figures and games from their answers (tasks gone or of another project: none)."""
    kind = kind_of(project)
    tasks = {
        tid: (gold, responses)
        for tid, gold, responses in session.execute(
            select(Task.id, Task.gold, Task.responses).where(
                Task.id.in_(task_ids), Task.project_id == project.id
            )
        )
    }
    session.execute(delete(TaskFigures).where(TaskFigures.task_id.in_(task_ids)))
    session.execute(delete(TaskGame).where(TaskGame.task_id.in_(task_ids)))
    if not tasks:
        return
    answers: dict[int, list[Any]] = {}
    for row in session.execute(
        select(Annotation.task_id, Annotation.result, Annotation.status, Annotation.created_at).where(
            Annotation.task_id.in_(list(tasks)), Annotation.status != "rejected"
        )
    ):
        answers.setdefault(row.task_id, []).append(row)
    figures = [
        {"task_id": tid, "project_id": project.id, **queue_figures(project, tasks[tid][0], rows)}
        for tid, rows in answers.items()
    ]
    _insert(session, TaskFigures, figures)
    if not kind.compares_responses:
        return
    judged: dict[int, list[dict[str, Any]]] = {}
    if kind.has_judge_board:
        for tid, result in session.execute(
            select(Suggestion.task_id, Suggestion.result).where(
                Suggestion.task_id.in_(list(tasks)), Suggestion.of_kind("judge"), Suggestion.error.is_(None)
            )
        ):
            judged.setdefault(tid, []).append(result)
    games = [
        {"task_id": tid, "project_id": project.id, "board": board, "a": a, "b": b, "outcome": o, "n": n}
        for tid, (_, responses) in tasks.items()
        for board, results, judge in (
            ("human", [a.result for a in answers.get(tid, [])], False),
            ("judge", judged.get(tid, []), True),
        )
        for (a, b, o), n in task_games(project, responses, results, judge=judge).items()
    ]
    _insert(session, TaskGame, games)


def _insert(session: Session, table: type[TaskFigures] | type[TaskGame], rows: list[dict[str, Any]]) -> None:
    """Rows in one statement per ROWS_PER_INSERT: on PostgreSQL a single parameter, a JSON array read by
    jsonb_to_recordset, so that its statement-level triggers (migration 0014) add the rows up at once (an
    executemany would fire them per row) and nothing is compiled per row (a multi-row VALUES is); SQLite's
    executemany is quick and its triggers run per row anyway."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(table.__table__.columns)
    names = ", ".join(c.name for c in columns)
    types = ", ".join(f"{c.name} {c.type.compile(dialect=postgresql.dialect())}" for c in columns)
    statement = text(
        f"INSERT INTO {table.__tablename__} ({names}) SELECT {names} "
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({types})"
    )
    for start in range(0, len(rows), ROWS_PER_INSERT):
        session.execute(statement, {"rows": orjson.dumps(rows[start : start + ROWS_PER_INSERT]).decode()})
