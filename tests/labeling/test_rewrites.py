"""Rewrites of the preferred response through the API: stored as {"edits": {id: text}}, and every bad one
refused with 422 naming the field, before anything is stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.kinds import get_kind
from app.models import Annotation
from tests import factories
from tests.conftest import login
from tests.labeling.test_annotating import _setup


def _put(client: TestClient, auth: dict[str, str], task_id: int, result: dict[str, Any]) -> Any:
    return client.put(
        f"/api/v1/annotations/{uuid.uuid4()}", headers=auth, json={"task_id": task_id, "result": result}
    )


def test_a_rewrite_of_the_chosen_response_is_stored_by_id(client: TestClient, db: Session) -> None:
    _, tasks, _, auth, _ = _setup(db, 2, edits="optional")
    r = _put(client, auth, tasks[0].id, {"choice": "b", "strength": 1, "edits": {"b": "A better B."}})
    assert r.status_code == 201, r.text
    assert r.json()["result"] == {"choice": "b", "strength": 1, "edits": {"b": "A better B."}}
    tie = _put(
        client, auth, tasks[1].id, {"choice": "tie", "edits": {"a": "Both were weak; this is A, improved."}}
    )
    assert tie.status_code == 201 and tie.json()["result"]["edits"] == {
        "a": "Both were weak; this is A, improved."
    }


@pytest.mark.parametrize(
    ("settings", "result", "field", "words"),
    [
        ({"edits": "off"}, {"choice": "a", "edits": {"a": "new"}}, "result.edits", "takes no rewrites"),
        ({"edits": "optional"}, {"choice": "a", "edits": {"a": "  "}}, "result.edits.a", "empty"),
        (
            {"edits": "optional"},
            {"choice": "a", "edits": {"zz": "new"}},
            "result.edits.zz",
            "no response 'zz'",
        ),
        (
            {"edits": "optional"},
            {"choice": "a", "edits": {"b": "new"}},
            "result.edits.b",
            "only the preferred",
        ),
        (
            {"edits": "optional", "edit_max_chars": 10},
            {"choice": "a", "edits": {"a": "x" * 11}},
            "result.edits.a",
            "limit is 10",
        ),
        (
            {"edits": "optional"},
            {"choice": "a", "edits": {"a": "1", "b": "2"}},
            "result.edits",
            "one response",
        ),
        ({"edits": "optional"}, {"choice": "a", "edits": ["a", "new"]}, "result.edits", "must map"),
        (
            {"edits": "optional"},
            {"choice": "a", "neither_good": True, "edits": {"a": "x"}},
            "result.neither_good",
            "does not ask",
        ),
        (
            {"edits": "required_if_neither_good"},
            {"choice": "a", "neither_good": True},
            "result.edits",
            "rewrite the preferred",
        ),
        (
            {"edits": "required_if_neither_good"},
            {"choice": "a", "neither_good": "yes"},
            "result.neither_good",
            "true or false",
        ),
    ],
)
def test_bad_rewrites_are_422_naming_the_field_and_store_nothing(
    client: TestClient, db: Session, settings: dict[str, Any], result: dict[str, Any], field: str, words: str
) -> None:
    _, tasks, _, auth, _ = _setup(db, 1, **settings)
    r = _put(client, auth, tasks[0].id, result)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["detail"]
    assert (
        db.scalar(select(func.count()).select_from(Annotation).where(Annotation.task_id == tasks[0].id)) == 0
    )


def test_a_huge_rewrite_is_refused_without_storing_it(client: TestClient, db: Session) -> None:
    _, tasks, _, auth, _ = _setup(db, 1, edits="optional")
    r = _put(client, auth, tasks[0].id, {"choice": "a", "edits": {"a": "y" * 2_000_000}})
    assert r.status_code in (413, 422)
    assert db.scalar(select(func.count()).select_from(Annotation)) == 0


def test_agreement_reads_the_choice_not_the_rewrite() -> None:
    pairwise = get_kind("pairwise")
    plain, rewritten = {"choice": "a"}, {"choice": "a", "edits": {"a": "improved"}}
    assert pairwise.nominal_key(plain) == pairwise.nominal_key(rewritten)
    assert (
        pairwise.pair_votes(["a", "b"], plain)
        == pairwise.pair_votes(["a", "b"], rewritten)
        == {("a", "b"): 1}
    )


def test_the_settings_form_sets_rewrites(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="ranking", lead=lead)
    csrf = login(client, lead.email)
    form = {"csrf_token": csrf, "name": project.name, "overlap": "1", "lease_minutes": "10", "k": "4"}
    page = client.get(f"/projects/{project.id}/settings").text
    assert 'name="edits"' in page and 'name="edit_max_chars"' in page
    bad = client.post(f"/projects/{project.id}/settings", data={**form, "edits": "always"})
    assert bad.status_code == 422 and "edits" in bad.text
    r = client.post(
        f"/projects/{project.id}/settings", data={**form, "edits": "optional", "edit_max_chars": "500"}
    )
    assert r.status_code == 303
    db.refresh(project)
    assert project.settings["edits"] == "optional" and project.settings["edit_max_chars"] == 500
    rating = factories.make_project(db, kind="rating", lead=lead)
    assert 'name="edits"' not in client.get(f"/projects/{rating.id}/settings").text


def _conversation_task(db: Session, project: Any) -> Any:
    prompt = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "2+2?"},
    ]
    return factories.make_task(db, project, prompt, ["4", "5"])


def test_turn_ratings_are_stored_and_bad_ones_are_422(client: TestClient, db: Session) -> None:
    project, _, _, auth, _ = _setup(db, 0, turn_ratings=True)
    task = _conversation_task(db, project)
    ok = _put(client, auth, task.id, {"choice": "a", "turns": {"1": {"rating": 2, "comment": " kind "}}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["result"]["turns"] == {"1": {"rating": 2, "comment": "kind"}}
    for turns, field in (
        ({"0": {"rating": 1}}, "result.turns.0"),  # a user turn
        ({"7": {"rating": 1}}, "result.turns.7"),
        ({"1": {"rating": 3}}, "result.turns.1.rating"),  # the scale is bad/okay/good
        ({"1": {"comment": "only words"}}, "result.turns.1"),
        ({"1": {"flag": "yes"}}, "result.turns.1.flag"),
        ({"1": {"rating": 0, "comment": "x" * 2001}}, "result.turns.1.comment"),
        (["1"], "result.turns"),
    ):
        r = _put(client, auth, task.id, {"choice": "a", "turns": turns})
        assert r.status_code == 422 and r.json()["field"] == field, (turns, r.text)
    plain, _, _, plain_auth, _ = _setup(db, 0)
    other = _conversation_task(db, plain)
    r = _put(client, plain_auth, other.id, {"choice": "a", "turns": {"1": {"rating": 0}}})
    assert r.status_code == 422 and "does not rate the turns" in r.json()["detail"]
