"""A trajectory project end to end through the API: agent conversations imported as OpenAI messages (tool
calls, tool results, the tools' schemas), each step labelled by an annotator, and the stepwise export TRL's
PRMTrainer reads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.exports import service
from app.exports.schemas import ExportRequest
from app.models import Project, Role
from tests import factories

TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]


def _conversation(question: str, found: str, reply: str) -> dict[str, Any]:
    return {
        "external_id": question,
        "messages": [
            {"role": "system", "content": "Answer with the search tool."},
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "s1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "s1", "name": "search", "content": found},
            {"role": "assistant", "content": reply},
        ],
        "tools": TOOLS,
    }


def test_a_trajectory_project_imports_annotates_and_exports_stepwise(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    lead, annotator = factories.make_user(db, is_admin=True), factories.make_user(db)
    lead_auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    auth = {"Authorization": f"Bearer {factories.make_token(db, annotator)}"}
    created = client.post("/api/v1/projects", headers=lead_auth, json={"name": "Agent", "kind": "trajectory"})
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["step_labels"] == ["good", "neutral", "bad"]
    project = db.get_one(Project, created.json()["id"])
    factories.add_member(db, project, annotator, Role.annotator)

    lines = [
        _conversation("Capital of France?", "Paris is the capital.", "Paris."),
        _conversation("Tallest mountain?", "K2 is the second tallest.", "K2."),
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    imported = client.post(
        f"/api/v1/projects/{project.id}/imports", headers=lead_auth, files={"file": ("agents.jsonl", body)}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported"] == 2

    answers = {"Capital of France?": ("good", "good"), "Tallest mountain?": ("good", "bad")}
    replies = {"Capital of France?": "Paris.", "Tallest mountain?": "K2."}
    for _ in answers:
        claimed = client.post(f"/api/v1/projects/{project.id}/next", headers=auth).json()
        task = claimed["task"]
        # the closing reply is the task's response, and the last step: steps are messages 2 and 4
        assert [m["role"] for m in task["prompt"]] == ["system", "user", "assistant", "tool"]
        assert [r["text"] for r in task["responses"]] == [replies[task["external_id"]]]
        put = {"task_id": task["id"], "assignment_id": claimed["assignment"]["id"], "lead_time_ms": 4000}
        unlabelled = {**put, "result": {"steps": {"2": "good"}}}
        refused = client.put(f"/api/v1/annotations/{uuid.uuid4()}", headers=auth, json=unlabelled)
        assert refused.status_code == 422 and "step 2 (message 4) has no label" in refused.text
        search, reply = answers[task["external_id"]]
        wrong = 4 if reply == "bad" else None
        result = {"steps": {"2": search, "4": reply}, "first_wrong": wrong}
        saved = client.put(
            f"/api/v1/annotations/{uuid.uuid4()}", headers=auth, json={**put, "result": result}
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["result"] == result

    queued = client.post(
        f"/api/v1/projects/{project.id}/snapshots", headers=lead_auth, json={"format": "stepwise"}
    )
    assert queued.status_code == 202, queued.text

    request = ExportRequest.model_validate({"format": "stepwise", "split": {"test": 0}})
    manifest = service.write_snapshot(
        db.connection(), project=project, request=request, directory=tmp_path / "j"
    )
    assert manifest["columns"] == ["prompt", "completions", "labels", "tools"]
    rows = [
        json.loads(line)
        for line in (tmp_path / "j" / manifest["files"]["train"]["file"]).read_text().splitlines()
    ]
    by_prompt = {row["prompt"]: row for row in rows}
    tallest = by_prompt["System: Answer with the search tool.\n\nUser: Tallest mountain?"]
    assert tallest["completions"] == ['search({"q": "x"})\n[search result] K2 is the second tallest.', "K2."]
    assert tallest["labels"] == [True, False]
    assert by_prompt["System: Answer with the search tool.\n\nUser: Capital of France?"]["labels"] == [
        True,
        True,
    ]
    assert json.loads(tallest["tools"]) == TOOLS

    request = ExportRequest.model_validate(
        {"format": "stepwise", "file_format": "parquet", "split": {"test": 0}}
    )
    manifest = service.write_snapshot(
        db.connection(), project=project, request=request, directory=tmp_path / "p"
    )
    table = pq.read_table(tmp_path / "p" / manifest["files"]["train"]["file"])
    assert table.schema.field("labels").type == pa.list_(pa.bool_())
    assert table.schema.field("completions").type == pa.list_(pa.string())
    assert sorted(map(tuple, table.column("labels").to_pylist())) == [(True, False), (True, True)]
