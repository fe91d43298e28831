"""Agent conversations import in the shapes practitioners have: OpenAI messages with `tool_calls`, tool
results and a `tools` list; ShareGPT with `function_call` / `observation` turns and `tools` as JSON text
(LLaMA-Factory); content as typed parts with reasoning. Bad tool data is refused by line, nothing kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.imports.shapes import RowError, normalize_row
from app.kinds.messages import step_indexes, step_text, tool_calls_of, trajectory
from app.models import Task
from tests import factories

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
OPENAI_ROW: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Is it warm in Porto?"},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "text": "I need the weather."},
                {"type": "text", "text": "Checking."},
            ],
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Porto"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": '{"temp_c": 24}'},
        {"role": "assistant", "content": "Yes: 24 °C."},
    ],
    "tools": [WEATHER],
}
SHAREGPT_ROW: dict[str, Any] = {
    "conversations": [
        {"from": "human", "value": "Is it warm in Porto?"},
        {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Porto"}}'},
        {"from": "observation", "value": '{"temp_c": 24}'},
        {"from": "gpt", "value": "Yes: 24 °C."},
    ],
    "system": "You are a travel agent.",
    "tools": json.dumps([WEATHER["function"]]),
}


def test_openai_messages_keep_calls_results_reasoning_and_tools() -> None:
    row = normalize_row(OPENAI_ROW)
    call_turn = row.prompt[2]
    assert isinstance(call_turn, dict)
    assert call_turn["content"] == "Checking." and call_turn["reasoning_content"] == "I need the weather."
    (call,) = tool_calls_of(call_turn)
    assert (call.id, call.name, call.arguments, call.valid) == ("c1", "get_weather", {"city": "Porto"}, True)
    assert row.prompt[3] == OPENAI_ROW["messages"][3]  # the tool's result exactly as it came
    assert [r["text"] for r in row.responses] == ["Yes: 24 °C."]
    assert row.meta["tools"] == [WEATHER]


def test_sharegpt_function_calls_become_openai_tool_calls() -> None:
    row = normalize_row(SHAREGPT_ROW)
    assert [m["role"] for m in row.prompt] == ["system", "user", "assistant", "tool"]  # type: ignore[index]
    (call,) = tool_calls_of(row.prompt[2])
    assert call.name == "get_weather" and call.arguments == {"city": "Porto"}
    assert row.prompt[3]["content"] == '{"temp_c": 24}'  # type: ignore[index]
    assert row.meta["tools"] == [WEATHER["function"]]  # the JSON text parsed into the list it names
    assert [r["text"] for r in row.responses] == ["Yes: 24 °C."]


def test_a_trajectory_that_ends_on_a_call_keeps_every_step_in_the_prompt() -> None:
    messages = [*OPENAI_ROW["messages"][:4], {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "book_hotel", "arguments": "{city: Porto"}}]}]  # fmt: skip
    row = normalize_row({"messages": messages})
    assert row.responses == []  # nothing answered in text: the last call is a step, not a response
    whole = trajectory(row.prompt, row.responses)
    assert step_indexes(whole) == [2, 4]
    (bad,) = tool_calls_of(whole[4])
    assert not bad.valid and bad.pretty == "{city: Porto"  # arguments that are not JSON stay as text
    assert step_text(whole, 2) == (
        'Checking.\nget_weather({"city": "Porto"})\n[get_weather result] {"temp_c": 24}'
    )


def test_parallel_and_unparseable_function_calls() -> None:
    row = normalize_row({"conversations": [
        {"from": "human", "value": "Weather in Porto and Lisbon?"},
        {"from": "function_call", "value": json.dumps(
            [{"name": "get_weather", "arguments": {"city": c}} for c in ("Porto", "Lisbon")])},
        {"from": "function_call", "value": "get_weather(Porto"},
    ]})  # fmt: skip
    assert [c.arguments for c in tool_calls_of(row.prompt[1])] == [{"city": "Porto"}, {"city": "Lisbon"}]
    (kept,) = tool_calls_of(row.prompt[2])
    assert not kept.valid and kept.text == "get_weather(Porto"


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"messages": [{"role": "user", "content": "x", "tool_calls": [{"id": 1}]}]}, "tool call 1 must be"),
        ({"messages": [{"role": "assistant", "content": "", "tool_calls": "go"}]}, '"tool_calls" must be a'),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": "not json"}, '"tools" must be a list'),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"description": "x"}]}, "must name its"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "content part 1 must be"),
        ({"messages": [{"role": "tool", "content": "r", "tool_call_id": 7}]}, '"tool_call_id" must be'),
        ({"messages": [{"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": "{}"}}] * 129}]}, "at most 128"),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "f"}] * 513}, "at most 512"),
    ],
)  # fmt: skip
def test_bad_tool_data_says_what_is_wrong(row: dict[str, Any], words: str) -> None:
    with pytest.raises(RowError, match=words.replace("(", r"\(")):
        normalize_row(row)


def test_a_file_with_one_bad_tool_list_imports_nothing_and_names_its_line(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    project = factories.make_project(db, kind="sft", lead=lead)
    bad = {**OPENAI_ROW, "tools": "[{"}
    body = "\n".join(json.dumps(r) for r in (OPENAI_ROW, SHAREGPT_ROW, bad)).encode()
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", body)})
    assert r.status_code == 422
    assert r.json()["errors"][0]["line"] == 3 and '"tools"' in r.json()["errors"][0]["message"]
    assert db.scalars(select(Task).where(Task.project_id == project.id)).first() is None

    body = "\n".join(json.dumps(r) for r in (OPENAI_ROW, SHAREGPT_ROW)).encode()
    r = client.post(f"/api/v1/projects/{project.id}/imports", headers=auth, files={"file": ("t.jsonl", body)})
    assert r.status_code == 201, r.text
    tasks = db.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
    assert [t.meta["tools"][0].get("function", t.meta["tools"][0])["name"] for t in tasks] == [
        "get_weather"
    ] * 2
