"""The chat project's settings form and pages, through the app (no worker: nothing is generated here)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.chat import service
from app.models import ChatTurn, Conversation, Role
from tests import factories
from tests.conftest import login


def test_the_settings_form_sets_the_models_and_temperatures(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="chat", lead=lead)
    csrf = login(client, lead.email)
    form = {"csrf_token": csrf, "name": project.name, "overlap": "1", "lease_minutes": "10"}
    bad = client.post(f"/projects/{project.id}/settings", data={**form, "temperatures": "0.2\n3"})
    assert bad.status_code == 422 and "temperatures" in bad.text
    r = client.post(
        f"/projects/{project.id}/settings",
        data={**form, "models": "m-small\nm-large", "temperatures": "0.2\n0.9",
              "system_prompt": "Be kind.\r\n", "turn_timeout_s": "30", "max_cost": "2.5"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    db.refresh(project)
    s = project.settings
    assert (s["models"], s["temperatures"], s["system_prompt"]) == (
        ["m-small", "m-large"],
        [0.2, 0.9],
        "Be kind.",
    )
    assert s["turn_timeout_s"] == 30 and s["max_cost"] == 2.5


def test_an_annotator_reads_only_their_own_conversations(client: TestClient, db: Session) -> None:
    lead, one, two = (factories.make_user(db) for _ in range(3))
    project = factories.make_project(db, kind="chat", lead=lead)
    for person in (one, two):
        factories.add_member(db, project, person, Role.annotator)
    theirs = Conversation(project_id=project.id, user_id=two.id, title="Private thoughts")
    db.add(theirs)
    db.flush()
    login(client, one.email)
    assert client.get(f"/projects/{project.id}/chat/{theirs.id}").status_code == 404
    assert "Private thoughts" not in client.get(f"/projects/{project.id}/chat").text
    login(client, lead.email)
    assert "Private thoughts" in client.get(f"/projects/{project.id}/chat").text
    assert client.get(f"/projects/{project.id}/chat/{theirs.id}").status_code == 200
    pairwise = factories.make_project(db, lead=lead)
    assert client.get(f"/projects/{pairwise.id}/chat").status_code == 404  # no chats in other kinds


def test_the_budget_shows_under_the_composer_and_the_streaming_polls_do_not_sum_it(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    annotator = factories.make_user(db)
    project = factories.make_project(db, kind="chat", settings={"max_cost": 1.0})
    factories.add_member(db, project, annotator, Role.annotator)
    conversation = Conversation(project_id=project.id, user_id=annotator.id, title="t")
    db.add(conversation)
    db.flush()
    picked = ChatTurn(conversation_id=conversation.id, uuid=str(uuid.uuid4()), user_text="hi", messages=[],
                      candidates=[], order=[], status="picked", reply="hello", cost=0.25)  # fmt: skip
    db.add(picked)
    db.flush()
    conversation.head_turn_id = picked.id
    db.flush()
    sums: list[int] = []
    real_spent = service.spent
    monkeypatch.setattr(service, "spent", lambda s, p: sums.append(p.id) or real_spent(s, p))
    login(client, annotator.email)
    page = f"/projects/{project.id}/chat/{conversation.id}"
    assert "spent 0.2500 of 1.0" in client.get(page).text and sums == [project.id]

    waiting = [{"id": cid, "status": "generating", "text": ""} for cid in ("a", "b")]
    streaming = ChatTurn(
        conversation_id=conversation.id,
        parent_id=picked.id,
        depth=2,
        uuid=str(uuid.uuid4()),
        user_text="more",
        messages=[],
        candidates=waiting,
        order=["a", "b"],
        status="generating",
    )
    db.add(streaming)
    db.flush()
    conversation.head_turn_id = streaming.id
    db.flush()
    sums.clear()
    poll = client.get(page, headers={"HX-Request": "true"})
    assert poll.status_code == 200 and 'hx-trigger="every 500ms"' in poll.text
    assert sums == [] and "spent" not in poll.text  # no composer while replies stream: no project-wide sum
