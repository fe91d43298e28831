"""Reviewing pre-labels: the queue offers tasks with a suggestion, and the reviewer's answer becomes an
annotation (through the annotation service) that records its suggestion, origin and edit distance."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.models import Annotation, Assignment, Role, Task, utcnow
from app.prelabel.review import claim_review, review_suggestion
from app.prelabel.schemas import ReviewBody
from tests import factories

LABELS = {"labels": ["Billing", "Delivery", "Account"]}


def _reviewer(db: Session, project: object) -> object:
    user = factories.make_user(db)
    factories.add_member(db, project, user, Role.reviewer)  # type: ignore[arg-type]
    return user


def _body(action: str, result: dict | None = None, assignment_id: int | None = None) -> ReviewBody:  # type: ignore[type-arg]
    return ReviewBody(uuid=str(uuid.uuid4()), action=action, result=result, assignment_id=assignment_id)


def test_accepting_a_label_stores_an_annotation_that_names_its_suggestion(db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings=LABELS)
    task = factories.make_task(db, project, "I was charged twice", [])
    suggestion = factories.make_suggestion(db, task, "label", {"labels": ["Billing"], "confidence": 0.9})
    reviewer = _reviewer(db, project)
    claim = claim_review(db, project=project, user=reviewer)  # type: ignore[arg-type]
    assert claim is not None and claim.task.id == task.id and claim.suggestion.id == suggestion.id
    body = _body("accept", assignment_id=claim.assignment.id)
    done = review_suggestion(db, suggestion=suggestion, user=reviewer, body=body)  # type: ignore[arg-type]
    assert done.created
    stored = db.scalar(select(Annotation).where(Annotation.uuid == body.uuid))
    assert stored is not None and stored.result == {"labels": ["Billing"]}
    assert (stored.suggestion_id, stored.origin, stored.edit_distance) == (
        suggestion.id,
        "suggestion_accepted",
        0,
    )
    db.refresh(task)
    assert task.annotation_count == 1 and task.status == "done" and task.reserved == 0
    assert db.get_one(Assignment, claim.assignment.id).status == "submitted"
    again = review_suggestion(db, suggestion=suggestion, user=reviewer, body=body)  # type: ignore[arg-type]
    assert not again.created and again.annotation.id == stored.id
    assert db.scalar(select(Task.annotation_count).where(Task.id == task.id)) == 1
    assert claim_review(db, project=project, user=reviewer) is None  # type: ignore[arg-type]


def test_editing_a_draft_records_its_edit_distance_and_rejecting_replaces_it(db: Session) -> None:
    project = factories.make_project(db, kind="sft", settings={"overlap": 2})
    task = factories.make_task(db, project, "Say hello", [])
    suggestion = factories.make_suggestion(db, task, "draft", {"response": "Hello world"})
    editor, rejecter = _reviewer(db, project), _reviewer(db, project)
    edited = review_suggestion(
        db,
        suggestion=suggestion,
        user=editor,  # type: ignore[arg-type]
        body=_body("edit", {"response": "Hello, world!"}),
    )
    assert (edited.annotation.origin, edited.annotation.edit_distance) == ("suggestion_edited", 2)
    replaced = review_suggestion(
        db,
        suggestion=suggestion,
        user=rejecter,  # type: ignore[arg-type]
        body=_body("reject", {"response": "Hi."}),
    )
    assert replaced.annotation.origin == "suggestion_replaced" and replaced.annotation.edit_distance == 10
    rows = {a.user_id: a for a in db.scalars(select(Annotation).where(Annotation.task_id == task.id))}
    assert rows[editor.id].suggestion_id == rows[rejecter.id].suggestion_id == suggestion.id  # type: ignore[attr-defined]
    assert db.scalar(select(Task.status).where(Task.id == task.id)) == "done"


def test_a_changed_judgement_is_replaced_and_a_tie_cannot_be_accepted_without_ties(db: Session) -> None:
    project = factories.make_project(db, kind="pairwise", settings={"allow_ties": False})
    task = factories.make_task(db, project, "Which?", ["one", "two"])
    tie = factories.make_suggestion(
        db, task, "judge", {"choice": "tie", "rationale": "", "orders_agree": False, "confidence": None}
    )
    reviewer = _reviewer(db, project)
    with pytest.raises(InvalidInput, match="allows no ties"):
        review_suggestion(db, suggestion=tie, user=reviewer, body=_body("accept"))  # type: ignore[arg-type]
    done = review_suggestion(
        db,
        suggestion=tie,
        user=reviewer,  # type: ignore[arg-type]
        body=_body("edit", {"choice": "b"}),
    )
    assert (done.annotation.origin, done.annotation.edit_distance, done.annotation.result) == (
        "suggestion_replaced",
        1,
        {"choice": "b"},
    )


def test_the_queue_offers_tasks_with_a_suggestion_once_and_to_one_reviewer(db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings=LABELS)
    with_one, another, failed_only, _without = (
        factories.make_task(db, project, f"t{i}", []) for i in range(4)
    )
    for task in (with_one, another):
        factories.make_suggestion(db, task, "label", {"labels": ["Delivery"], "confidence": 0.5})
    factories.make_suggestion(db, failed_only, "label", {}, error="429 from the endpoint")
    first, second, third = (_reviewer(db, project) for _ in range(3))
    a = claim_review(db, project=project, user=first)  # type: ignore[arg-type]
    b = claim_review(db, project=project, user=second)  # type: ignore[arg-type]
    assert a and b and {a.task.id, b.task.id} == {with_one.id, another.id}
    assert claim_review(db, project=project, user=third) is None  # type: ignore[arg-type]
    again = claim_review(db, project=project, user=first)  # type: ignore[arg-type]
    assert again and again.assignment.id == a.assignment.id  # the held lease comes back
    assert db.scalar(select(Task.reserved).where(Task.id == a.task.id)) == 1


def test_a_paused_member_gets_no_task_to_review_until_resumed(db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings=LABELS)
    task = factories.make_task(db, project, "I was charged twice", [])
    factories.make_suggestion(db, task, "label", {"labels": ["Billing"], "confidence": 0.9})
    reviewer = factories.make_user(db)
    member = factories.add_member(db, project, reviewer, Role.reviewer)
    member.paused_at, member.paused_reason = utcnow(), "gold accuracy 0%"
    db.flush()
    assert claim_review(db, project=project, user=reviewer) is None
    assert db.scalar(select(Task.reserved).where(Task.id == task.id)) == 0
    member.paused_at = None
    db.flush()
    claim = claim_review(db, project=project, user=reviewer)
    assert claim is not None and claim.task.id == task.id


def test_gold_tasks_are_never_offered_for_review(db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings={**LABELS, "gold_rate": 1.0})
    gold, plain = (factories.make_task(db, project, f"t{i}", []) for i in range(2))
    gold.gold = {"labels": ["Billing"]}
    for task in (gold, plain):
        factories.make_suggestion(db, task, "label", {"labels": ["Billing"], "confidence": 0.9})
    first, second = _reviewer(db, project), _reviewer(db, project)
    claim = claim_review(db, project=project, user=first)  # type: ignore[arg-type]
    assert claim is not None and claim.task.id == plain.id
    assert claim_review(db, project=project, user=second) is None  # type: ignore[arg-type]


def test_review_through_the_api(client: TestClient, db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings=LABELS)
    task = factories.make_task(db, project, "Where is my parcel?", [])
    suggestion = factories.make_suggestion(db, task, "label", {"labels": ["Billing"], "confidence": 0.4})
    reviewer = _reviewer(db, project)
    auth = {"Authorization": f"Bearer {factories.make_token(db, reviewer)}"}  # type: ignore[arg-type]
    nxt = client.post(f"/api/v1/projects/{project.id}/prelabel/review/next", headers=auth)
    assert nxt.status_code == 200, nxt.text
    data = nxt.json()
    assert data["task"]["id"] == task.id and data["suggestion"]["result"]["labels"] == ["Billing"]
    body = {
        "uuid": str(uuid.uuid4()),
        "action": "edit",
        "result": {"labels": ["Delivery"]},
        "assignment_id": data["assignment_id"],
    }
    answer = client.post(f"/api/v1/suggestions/{suggestion.id}/review", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    assert answer.json() | {"uuid": None} == {
        "uuid": None,
        "task_id": task.id,
        "suggestion_id": suggestion.id,
        "origin": "suggestion_replaced",
        "edit_distance": 2,
        "result": {"labels": ["Delivery"]},
        "created": True,
    }
    repeat = client.post(f"/api/v1/suggestions/{suggestion.id}/review", json=body, headers=auth)
    assert repeat.status_code == 200 and repeat.json()["origin"] == "suggestion_replaced"
    assert client.post(f"/api/v1/projects/{project.id}/prelabel/review/next", headers=auth).status_code == 204
    bad = client.post(
        f"/api/v1/suggestions/{suggestion.id}/review",
        json={"uuid": str(uuid.uuid4()), "action": "edit"},
        headers=auth,
    )
    assert bad.status_code == 422 and "needs the reviewer's result" in bad.text
