"""Conversations survive import and a round trip through a raw export: system prompts, names, tool
messages and per-message metadata come back as they went in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.exports import service
from app.exports.schemas import ExportRequest
from app.models import Task
from tests import factories

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse.", "metadata": {"source": "policy-v3"}},
    {"role": "user", "name": "ada", "content": "Weather in Paris?", "metadata": {"lang": "en", "ts": 1733}},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "weather", "content": '{"temp": 14}'},
    {"role": "user", "name": "ada", "content": "And tomorrow?"},
]


def _import(client: TestClient, auth: dict[str, str], project_id: int, lines: list[dict[str, Any]]) -> Any:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    return client.post(
        f"/api/v1/projects/{project_id}/imports", headers=auth, files={"file": ("c.jsonl", body)}
    )


def test_a_conversation_round_trips_through_raw(client: TestClient, db: Session, tmp_path: Path) -> None:
    lead = factories.make_user(db)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    source = factories.make_project(db, kind="pairwise", lead=lead)
    row = {
        "external_id": "conv-1",
        "prompt": CONVERSATION,
        "responses": [{"id": "x", "text": "Rain, 11°C."}, {"id": "y", "text": "Sunny."}],
        "meta": {"batch": 7},
    }
    assert _import(client, auth, source.id, [row]).status_code == 201
    stored = db.scalars(select(Task).where(Task.project_id == source.id)).one()
    expected = [dict(m) for m in CONVERSATION]
    expected[2]["content"] = ""  # a turn that only calls tools: its content is empty text
    assert stored.prompt == expected

    request = ExportRequest.model_validate({"format": "raw", "split": {"test": 0}})
    manifest = service.write_snapshot(
        db.connection(), project=source, request=request, directory=tmp_path / "s"
    )
    exported = (tmp_path / "s" / manifest["files"]["train"]["file"]).read_text().splitlines()
    assert json.loads(json.loads(exported[0])["prompt"]) == expected

    target = factories.make_project(db, kind="pairwise", lead=lead)
    back = client.post(
        f"/api/v1/projects/{target.id}/imports",
        headers=auth,
        files={"file": ("raw.jsonl", "\n".join(exported))},
    )
    assert back.status_code == 201, back.text
    again = db.scalars(select(Task).where(Task.project_id == target.id)).one()
    assert again.prompt == expected and again.external_id == "conv-1"
    assert [(r["id"], r["text"]) for r in again.responses] == [("x", "Rain, 11°C."), ("y", "Sunny.")]
    assert again.meta["batch"] == 7 and again.meta["source_task_id"] == stored.id


def test_bad_messages_are_refused_with_the_line_and_nothing_imported(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    project = factories.make_project(db, kind="pairwise", lead=lead)
    good = {"prompt": CONVERSATION, "responses": ["a", "b"]}
    for bad, words in (
        ({"prompt": [{"role": "robot", "content": "hi"}], "responses": ["a", "b"]}, '"tool"'),
        (
            {"prompt": [{"role": "user", "name": 5, "content": "hi"}], "responses": ["a", "b"]},
            '"name" must be a string',
        ),
        ({"task_id": 1, "prompt": "[[[", "responses": "[]", "annotations": "[]"}, "must be JSON text"),
    ):
        r = _import(client, auth, project.id, [good, bad])
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["line"] == 2 and words in r.json()["errors"][0]["message"]
    assert db.scalars(select(Task).where(Task.project_id == project.id)).first() is None
