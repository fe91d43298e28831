"""The figures kept per task (app/quality/task_figures.py) and the counts kept per project, against the
same figures read from scratch after every step of a random run of what changes them: answers submitted
through the real claim and submit (PostgreSQL's one-statement path included), reviews of every verdict,
edited answers, gold set and cleared, judge suggestions, tasks imported, closed, reopened and deleted with
their answers. SQLite and PostgreSQL: the triggers are each back end's own."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.kinds.games import games_of, response_ids
from app.labeling.queue import claim_next_task
from app.labeling.schemas import AnnotationPut
from app.labeling.service import edit_annotation, submit_annotation
from app.loop.leaderboard import project_leaderboard
from app.models import Annotation, Job, Project, ProjectGame, Role, StaleTask, Suggestion, Task, User
from app.projects.service import project_counts
from app.quality import task_figures
from app.quality.review_queue import QueueFilters, review_queue
from app.quality.reviews import annotator_ids, review_annotation, set_gold
from app.quality.stats import store_stats
from tests import factories

MODELS = ["m-red", "m-green", "m-blue"]


def _project(db: Session, tasks: int = 8) -> tuple[Project, list[User], User]:
    lead, reviewer = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(
        db, kind="pairwise", lead=lead, settings={"overlap": 3, "allow_ties": True}
    )
    factories.add_member(db, project, reviewer, Role.reviewer)
    people = [factories.make_user(db) for _ in range(4)]
    for person in people:
        factories.add_member(db, project, person, Role.annotator)
    for n in range(tasks):
        a, b = MODELS[n % 3], MODELS[(n + 1) % 3]
        factories.make_task(
            db, project, f"Question {n}?", [{"id": "a", "text": f"A{n}", "model": a},
                                            {"id": "b", "text": f"B{n}", "model": b}],
        )  # fmt: skip
    return project, people, reviewer


def queue_from_scratch(db: Session, project: Project) -> list[tuple[Any, ...]]:
    """The review queue as the old page computed it: every counted answer read, grouped, scored, sorted."""
    kind = kind_of(project)
    grouped: dict[int, list[Any]] = {}
    for row in db.execute(
        select(Annotation.task_id, Annotation.result, Annotation.status, Annotation.created_at, Task.gold)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, Annotation.status != "rejected")
    ):
        grouped.setdefault(row.task_id, []).append(row)
    items = []
    for tid, answers in grouped.items():
        waiting = [a.created_at for a in answers if a.status == "submitted"]
        if not waiting:
            continue
        scores = [kind.gold_score(a.result, answers[0].gold, project.settings) for a in answers]
        known = [s for s in scores if s is not None]
        miss = 1 - sum(known) / len(known) if known else 0.0
        items.append((tid, kind.disagreement([a.result for a in answers]), miss, len(waiting), len(answers),
                      min(waiting)))  # fmt: skip
    return sorted(items, key=lambda i: (-i[1], -i[2], i[5], i[0]))


def games_from_scratch(db: Session, project: Project) -> dict[str, Counter[tuple[str, str, int]]]:
    kind = kind_of(project)
    boards: dict[str, Counter[tuple[str, str, int]]] = {"human": Counter(), "judge": Counter()}
    for result, responses in db.execute(
        select(Annotation.result, Task.responses)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, Annotation.status != "rejected")
    ):
        votes = kind.pair_votes(response_ids(responses), result)
        boards["human"].update((g.a, g.b, g.outcome) for g in games_of(responses, votes))
    for result, responses in db.execute(
        select(Suggestion.result, Task.responses)
        .join(Task, Task.id == Suggestion.task_id)
        .where(Task.project_id == project.id, Suggestion.of_kind("judge"), Suggestion.error.is_(None))
    ):
        votes = kind.judge_votes(response_ids(responses), result)
        boards["judge"].update((g.a, g.b, g.outcome) for g in games_of(responses, votes))
    return boards


def kept_games(db: Session, project: Project) -> dict[str, Counter[tuple[str, str, int]]]:
    boards: dict[str, Counter[tuple[str, str, int]]] = {"human": Counter(), "judge": Counter()}
    for g in db.scalars(select(ProjectGame).where(ProjectGame.project_id == project.id, ProjectGame.n != 0)):
        boards[g.board][(g.a, g.b, g.outcome)] = g.n
    return boards


def counts_from_scratch(db: Session, project: Project) -> dict[str, int]:
    tasks = list(db.scalars(select(Task.status).where(Task.project_id == project.id)))
    answers = db.scalars(select(Annotation.id).where(Annotation.project_id == project.id)).all()
    return {"tasks": len(tasks), "annotations": len(answers), "done": tasks.count("done")}


def _queue(db: Session, project: Project, **kw: Any) -> list[tuple[Any, ...]]:
    page = review_queue(db, project, limit=10_000, **kw)
    assert page.next_cursor is None and not page.catching_up
    return [(i.task_id, i.disagreement, i.gold_miss, i.pending, i.answers, i.oldest) for i in page.items]


def _paged(db: Session, project: Project, size: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = review_queue(db, project, cursor=cursor, limit=size)
        seen += [i.task_id for i in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def _choice(rng: random.Random) -> dict[str, Any]:
    choice = rng.choice(["a", "b", "a", "tie"])
    return {"choice": choice} if choice == "tie" else {"choice": choice, "strength": rng.randint(1, 2)}


def _step(db: Session, rng: random.Random, project: Project, people: list[User], reviewer: User) -> str:
    answers = list(db.scalars(select(Annotation).where(Annotation.project_id == project.id)))
    tasks = list(db.scalars(select(Task).where(Task.project_id == project.id)))
    op = rng.choice(
        ["submit"] * 5 + ["review", "review", "edit", "gold", "judge", "delete", "close", "import"]
    )
    if op == "submit":
        person = rng.choice(people)
        claim = claim_next_task(db, project=project, user=person)
        if claim is None:
            return "nothing to claim"
        body = AnnotationPut(task_id=claim.task.id, result=_choice(rng), assignment_id=claim.assignment.id)
        submit_annotation(db, annotation_uuid=str(uuid.uuid4()), user=person, body=body)
    elif op == "review" and answers:
        answer = rng.choice(answers)
        verdict = rng.choice(["accept", "reject", "correct"])
        result = _choice(rng) if verdict == "correct" else None
        review_annotation(db, annotation=answer, reviewer=reviewer, verdict=verdict, result=result)
    elif op == "edit" and answers:
        answer = rng.choice(answers)
        owner = db.get_one(User, answer.user_id)
        edit_annotation(db, annotation_uuid=answer.uuid, user=owner, result=_choice(rng))
    elif op == "gold" and tasks:
        task = rng.choice(tasks)
        set_gold(db, task=task, project=project, gold=rng.choice([None, {"choice": "a"}, {"choice": "b"}]),
                 user=reviewer)  # fmt: skip
    elif op == "judge" and tasks:
        factories.make_suggestion(db, rng.choice(tasks), result={"choice": rng.choice(["a", "b", "tie"])})
    elif op == "close" and tasks:  # as the data manager closes and reopens tasks
        status = rng.choice(["closed", "open"])
        db.execute(update(Task).where(Task.id == rng.choice(tasks).id).values(status=status))
        db.expire_all()
    elif op == "import":
        pair = [{"id": "a", "text": "x", "model": MODELS[0]}, {"id": "b", "text": "y", "model": MODELS[2]}]
        factories.make_task(db, project, f"New {len(tasks)}?", pair)
    elif op == "delete" and len(tasks) > 4:
        db.execute(delete(Task).where(Task.id == rng.choice(tasks).id))
        db.expire_all()
    else:
        return "skipped"
    db.flush()
    return op


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_figures_match_the_answers_after_every_change(db: Session, seed: int) -> None:
    rng = random.Random(seed)
    project, people, reviewer = _project(db)
    done = Counter[str]()
    for _ in range(70):
        done[_step(db, rng, project, people, reviewer)] += 1
        assert _queue(db, project) == queue_from_scratch(db, project)
        assert kept_games(db, project) == games_from_scratch(db, project)
        assert project_counts(db, [project.id])[project.id] == counts_from_scratch(db, project)
        answered = set(db.scalars(select(Annotation.user_id).where(Annotation.project_id == project.id)))
        assert answered <= set(annotator_ids(db, project)) <= {p.id for p in people}  # kept when deleted
    assert _paged(db, project, 2) == [i[0] for i in queue_from_scratch(db, project)]
    for op in ("submit", "review", "edit", "gold", "judge", "delete", "close", "import"):
        assert done[op] > 0, done  # the run did exercise every change
    board = project_leaderboard(db, project)
    assert board.human.games == sum(games_from_scratch(db, project)["human"].values()) > 0


def test_a_filtered_queue_keeps_the_kept_order(db: Session) -> None:
    project, people, _ = _project(db, tasks=6)
    tasks = list(db.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
    for n, task in enumerate(tasks):
        factories.make_annotation(db, task, people[0], {"choice": "a"})
        factories.make_annotation(db, task, people[n % 2 + 1], {"choice": "a" if n % 3 else "b"})
    mine = [i[0] for i in _queue(db, project, filters=QueueFilters(annotator=people[1].id))]
    everyone = [i[0] for i in _queue(db, project)]
    assert mine == [t for t in everyone if t in {tasks[n].id for n in range(6) if n % 2 == 0}]
    assert mine[0] == tasks[0].id  # a split task (a / b) first


def test_a_backlog_beyond_a_page_is_left_to_the_stats_job(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, people, _ = _project(db, tasks=6)
    for task in db.scalars(select(Task).where(Task.project_id == project.id)):
        factories.make_annotation(db, task, people[0], {"choice": "a"})
        factories.make_annotation(db, task, people[1], {"choice": "b"})
    monkeypatch.setattr(task_figures, "INLINE", 2)
    monkeypatch.setattr(task_figures, "CHUNK", 2)
    page = review_queue(db, project, limit=50)
    assert page.catching_up and len(page.items) == 2  # two tasks brought up to date, four left
    assert db.scalar(select(Job.id).where(Job.project_id == project.id, Job.of_kind("stats"))) is not None
    store_stats(db, project)  # what the job does
    assert db.scalar(select(StaleTask.task_id).where(StaleTask.project_id == project.id)) is None
    assert _queue(db, project) == queue_from_scratch(db, project) and len(_queue(db, project)) == 6


def test_deleting_a_task_takes_its_games_off_the_board(db: Session) -> None:
    project, people, _ = _project(db, tasks=3)
    tasks = list(db.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
    for task in tasks:
        factories.make_annotation(db, task, people[0], {"choice": "a", "strength": 1})
    before = project_leaderboard(db, project).human.games
    assert before == 3
    db.execute(delete(Task).where(Task.id == tasks[0].id))
    assert project_leaderboard(db, project).human.games == 2
    assert kept_games(db, project) == games_from_scratch(db, project)
