"""Ratings of a conversation's own turns in exports: KTO rows whose prompt is the conversation up to the
rated turn and whose completion is that turn, `source` "turn"; the raw format keeps them as answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.labeling.results import validate_result
from app.models import Project, Role, Task, User
from tests import factories
from tests.exports.test_snapshots import export, rows

CONVERSATION = [
    {"role": "user", "content": "Plan a day in Porto."},
    {"role": "assistant", "content": "Start at the Ribeira."},
    {"role": "user", "content": "And lunch?"},
    {"role": "assistant", "content": "Try the 412 museums."},
    {"role": "user", "content": "Dinner?"},
]


def _answer(db: Session, task: Task, user: User, result: dict[str, Any]) -> None:
    project = db.get_one(Project, task.project_id)
    factories.make_annotation(db, task, user, validate_result(project, task, result))


def test_rated_turns_become_kto_rows_up_to_the_turn(db: Session, tmp_path: Path) -> None:
    lead, one, two, three = (factories.make_user(db) for _ in range(4))
    project = factories.make_project(
        db, kind="pairwise", lead=lead, settings={"turn_ratings": True, "overlap": 3}
    )
    for person in (one, two, three):
        factories.add_member(db, project, person, Role.annotator)
    task = factories.make_task(db, project, CONVERSATION, ["Francesinha.", "Sushi."])
    _answer(
        db,
        task,
        one,
        {"choice": "a", "turns": {"1": {"rating": 2}, "3": {"rating": 0, "comment": "made up"}}},
    )
    _answer(db, task, two, {"choice": "a", "turns": {"1": {"rating": 2}, "3": {"flag": True}}})
    _answer(db, task, three, {"choice": "a", "turns": {"1": {"rating": 1}}})  # "okay": says nothing

    manifest = export(db, project, tmp_path / "all", format="kto", aggregation={"mode": "all"})
    got = rows(tmp_path / "all", manifest)
    turns = [r for r in got if r["source"] == "turn"]
    first = [{"role": "user", "content": "Plan a day in Porto."}]
    third = [
        *first,
        {"role": "assistant", "content": "Start at the Ribeira."},
        {"role": "user", "content": "And lunch?"},
    ]
    assert [(r["prompt"], r["completion"], r["label"]) for r in turns] == [
        (first, [{"role": "assistant", "content": "Start at the Ribeira."}], True),
        (first, [{"role": "assistant", "content": "Start at the Ribeira."}], True),
        (third, [{"role": "assistant", "content": "Try the 412 museums."}], False),
        (third, [{"role": "assistant", "content": "Try the 412 museums."}], False),
    ]
    assert {r["source"] for r in got} == {"choice", "turn"}
    assert manifest["rows_by_source"]["turn"] == 4 and manifest["columns"][-1] == "source"

    majority = export(db, project, tmp_path / "maj", format="kto")
    decided = [
        (r["completion"][0]["content"], r["label"])
        for r in rows(tmp_path / "maj", majority)
        if r["source"] == "turn"
    ]
    assert decided == [("Start at the Ribeira.", True), ("Try the 412 museums.", False)]

    raw = export(db, project, tmp_path / "raw", format="raw")
    answers = json.loads(rows(tmp_path / "raw", raw)[0]["annotations"])
    assert answers[0]["result"]["turns"] == {"1": {"rating": 2}, "3": {"rating": 0, "comment": "made up"}}


def test_a_project_without_turn_ratings_exports_kto_as_before(db: Session, tmp_path: Path) -> None:
    lead, one = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, kind="rating", lead=lead)
    factories.add_member(db, project, one, Role.annotator)
    manifest = export(db, project, tmp_path / "s", format="kto")
    assert manifest["columns"] == ["prompt", "completion", "label"] and "rows_by_source" not in manifest
