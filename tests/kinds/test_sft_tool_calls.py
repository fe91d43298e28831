"""SFT demonstrations may call tools: the next assistant turn is text, calls, or both. A call names one of
the task's tools and its arguments follow that tool's schema; errors name the call and the place in its
arguments. A prompt that ends on a call with no reply yet hands that call over as the draft, and the
exports write the demonstration's calls the OpenAI way (or as `name(arguments)` lines in plain text)."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.core.errors import InvalidInput
from app.exports.formats import TaskRecord
from app.exports.schemas import Aggregation
from app.kinds import get_kind
from app.kinds.rows import RowForm
from app.kinds.tool_schemas import MAX_ARGUMENTS, MAX_CALLS, schema_error
from app.kinds.votes import Vote
from app.labeling.results import validate_result
from app.models import Annotation, Project, Review, Role, Task, User
from tests import factories
from tests.conftest import sign_in

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
                },
            },
            "required": ["city"],
        },
    },
}
BARE = {"name": "book", "parameters": {"type": "object", "properties": {"hotel": {"type": "string"}}}}
BROKEN = {"name": "broken", "parameters": {"type": "no such type"}}
REMOTE = {"name": "remote", "parameters": {"$ref": "https://example.invalid/schema.json"}}
TOOLS = [WEATHER, BARE, BROKEN, REMOTE]


def _agent_prompt(arguments: Any = '{"city": "Porto"}', text: str = "") -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return [
        {"role": "user", "content": "Weather in Porto?"},
        {
            "role": "assistant",
            "content": text,
            "tool_calls": [call],
        },
    ]  # fmt: skip


@pytest.fixture
def team(db: Session) -> dict[str, User]:
    return {n: factories.make_user(db) for n in ("lead", "annotator", "reviewer")}


@pytest.fixture
def project(db: Session, team: dict[str, User]) -> Project:
    project = factories.make_project(db, kind="sft", lead=team["lead"])
    factories.add_member(db, project, team["annotator"], Role.annotator)
    factories.add_member(db, project, team["reviewer"], Role.reviewer)
    return project


@pytest.fixture
def task(db: Session, project: Project) -> Task:
    return factories.make_task(db, project, _agent_prompt(), [], tools=TOOLS)


def _invalid(project: Project, task: Task, result: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_result(project, task, result)
    return caught.value


# ── validation ────────────────────────────────────────────────────────────────────────────────────────
def test_a_demonstration_may_be_text_calls_or_both(project: Project, task: Task) -> None:
    call = {"name": "get_weather", "arguments": {"city": "Porto"}}
    assert validate_result(project, task, {"response": "Sunny."}) == {"response": "Sunny."}
    assert validate_result(project, task, {"response": "", "tool_calls": [call]}) == {
        "response": "",
        "tool_calls": [call],
    }
    assert validate_result(project, task, {"tool_calls": [call]})["tool_calls"] == [call]
    both = validate_result(project, task, {"response": "Checking.", "tool_calls": [call, call]})
    assert both == {"response": "Checking.", "tool_calls": [call, call]}
    assert validate_result(project, task, {"response": "Sunny.", "tool_calls": []}) == {"response": "Sunny."}
    error = _invalid(project, task, {"response": " ", "tool_calls": []})
    assert "may be empty only beside a tool call" in error.message


def test_a_call_names_one_of_the_tasks_tools(project: Project, task: Task) -> None:
    error = _invalid(project, task, {"response": "", "tool_calls": [{"name": "send_mail", "arguments": {}}]})
    assert error.extra["field"] == "result.tool_calls[0].name"
    assert "'send_mail' is not one of the task's tools (get_weather, book, broken, remote)" in error.message
    error = _invalid(project, task, {"response": "", "tool_calls": [{"arguments": {}}]})
    assert error.extra["field"] == "result.tool_calls[0].name"


def test_without_tool_schemas_any_named_call_goes(db: Session, project: Project) -> None:
    plain = factories.make_task(db, project, "Weather in Porto?", ["Sunny."])
    call = {"name": "anything", "arguments": {"x": 1}}
    assert validate_result(project, plain, {"response": "", "tool_calls": [call]})["tool_calls"] == [call]
    assert _invalid(project, plain, {"response": "", "tool_calls": [{"name": " "}]}).extra["field"] == (
        "result.tool_calls[0].name"
    )


def test_arguments_follow_the_tools_schema_and_the_error_says_where(project: Project, task: Task) -> None:
    def error_of(arguments: Any, at: int = 0) -> InvalidInput:
        calls = [{"name": "book", "arguments": {"hotel": "Inn"}}] * at + [
            {"name": "get_weather", "arguments": arguments}
        ]
        return _invalid(project, task, {"response": "", "tool_calls": calls})

    wrong_type = error_of({"city": 3})
    assert wrong_type.message == (
        "result.tool_calls[0].arguments.city: 3 is not of type 'string' (call 1, get_weather)"
    )
    assert wrong_type.extra["field"] == "result.tool_calls[0].arguments.city"
    nested = error_of({"city": "Porto", "days": [{"n": 1}, {"n": "two"}]}, at=1)
    assert nested.extra["field"] == "result.tool_calls[1].arguments.days[1].n"
    assert "(call 2, get_weather)" in nested.message
    missing = error_of({})
    assert missing.message == (
        "result.tool_calls[0].arguments: 'city' is a required property (call 1, get_weather)"
    )
    not_object = error_of('{"city": "Porto"}')  # JSON text is not an object: arguments are parsed
    assert not_object.extra["field"] == "result.tool_calls[0].arguments"
    assert "must be a JSON object" in not_object.message


def test_only_the_first_schema_error_is_reported() -> None:
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in "abcdef"}}
    assert schema_error(schema, dict.fromkeys("abcdef", 1)) == (".a", "1 is not of type 'string'")


def test_a_broken_tool_schema_checks_only_the_object(project: Project, task: Task) -> None:
    for name in ("broken", "remote"):
        call = {"name": name, "arguments": {"anything": [1, 2]}}
        assert validate_result(project, task, {"response": "", "tool_calls": [call]})["tool_calls"] == [call]
        error = _invalid(project, task, {"response": "", "tool_calls": [{"name": name, "arguments": [1]}]})
        assert error.extra["field"] == "result.tool_calls[0].arguments"


def test_the_work_is_bounded(project: Project, task: Task) -> None:
    call = {"name": "book", "arguments": {"hotel": "Inn"}}
    error = _invalid(project, task, {"response": "", "tool_calls": [call] * (MAX_CALLS + 1)})
    assert error.extra["field"] == "result.tool_calls" and f"at most {MAX_CALLS}" in error.message
    big = {"name": "book", "arguments": {"hotel": "x" * MAX_ARGUMENTS}}
    error = _invalid(project, task, {"response": "", "tool_calls": [call, big]})
    assert error.extra["field"] == "result.tool_calls[1].arguments" and "more than 100000" in error.message
    deep: Any = {}
    for _ in range(300):
        deep = {"d": deep}
    error = _invalid(project, task, {"response": "", "tool_calls": [{"name": "broken", "arguments": deep}]})
    assert "nested too deeply" in error.message


def test_an_api_answer_with_a_call_is_stored_and_a_bad_one_is_422(
    client: TestClient, db: Session, team: dict[str, User], task: Task
) -> None:
    auth = {"Authorization": f"Bearer {factories.make_token(db, team['annotator'])}"}

    def put(result: dict[str, Any]) -> Any:
        body = {"task_id": task.id, "result": result}
        return client.put(f"/api/v1/annotations/{uuid.uuid4()}", headers=auth, json=body)

    bad = put({"response": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": 3}}]})
    assert bad.status_code == 422, bad.text
    assert bad.json()["field"] == "result.tool_calls[0].arguments.city"
    assert "result.tool_calls[0].arguments.city: 3 is not of type 'string'" in bad.json()["detail"]
    unknown = put({"response": "", "tool_calls": [{"name": "nope", "arguments": {}}]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "result.tool_calls[0].name"
    good = put(
        {"response": "Let me check.", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Porto"}}]}
    )
    assert good.status_code == 201, good.text
    stored = db.scalars(select(Annotation).where(Annotation.task_id == task.id)).one()
    assert stored.result == {
        "response": "Let me check.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Porto"}}],
    }


# ── the draft ─────────────────────────────────────────────────────────────────────────────────────────
def test_a_prompt_ending_on_a_call_hands_it_over_as_the_draft(db: Session, project: Project) -> None:
    sft = get_kind("sft")
    task = factories.make_task(db, project, _agent_prompt(text="Let me look."), [], tools=TOOLS)
    context, text, calls = sft.draft_of(task.prompt, task.responses)
    assert context == task.prompt[:1] and text == "Let me look."
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Porto"})]
    assert sft.shown_prompt(task.prompt) == task.prompt[:1]
    # with a reply the prompt stays whole and the reply is the draft, as text
    replied = factories.make_task(db, project, _agent_prompt(), ["Sunny."], tools=TOOLS)
    assert replied.prompt[-1]["role"] == "assistant"
    assert sft.draft_of(replied.prompt, replied.responses) == (replied.prompt, "Sunny.", [])
    # a prompt that ends on a tool's result, a user turn or plain text has no drafted call
    for prompt in (
        [*_agent_prompt(), {"role": "tool", "content": "18 C"}],
        "Hi?",
        [{"role": "user", "content": "Hi"}],
    ):
        assert sft.draft_of(prompt, [])[2] == []
    assert sft.shown_prompt("Hi?") == "Hi?"


def test_draft_arguments_that_are_not_json_are_kept_as_text(db: Session, project: Project) -> None:
    task = factories.make_task(db, project, _agent_prompt('{"city": Porto'), [], tools=TOOLS)
    (call,) = get_kind("sft").draft_of(task.prompt, task.responses)[2]
    assert not call.valid and call.pretty == '{"city": Porto'


def test_prelabel_drafts_stay_text() -> None:
    sft = get_kind("sft")
    assert sft.accepted_result({}, {"response": "Drafted."}) == {"response": "Drafted."}


# ── the review page's form ────────────────────────────────────────────────────────────────────────────
def test_a_form_gives_the_calls_and_bad_json_names_the_call() -> None:
    sft = get_kind("sft")
    form = FormData([
        ("response", "Checking."), ("tool_name__1", "book"), ("tool_args__1", '{"hotel": "Inn"}'),
        ("tool_name__0", "get_weather"), ("tool_args__0", '{"city": "Porto"}'), ("tool_name__x", "skip"),
    ])  # fmt: skip
    assert sft.result_from_form(form, []) == {
        "response": "Checking.",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Porto"}},
            {"name": "book", "arguments": {"hotel": "Inn"}},
        ],
    }
    assert sft.result_from_form(FormData([("response", "Hi")]), []) == {"response": "Hi"}
    empty = sft.result_from_form(
        FormData([("response", ""), ("tool_name__0", "book"), ("tool_args__0", " ")]), []
    )
    assert empty["tool_calls"] == [{"name": "book", "arguments": {}}]
    with pytest.raises(InvalidInput) as caught:
        sft.result_from_form(
            FormData([("response", ""), ("tool_name__0", "book"), ("tool_args__0", '{"hotel": ')]), []
        )
    assert caught.value.extra["field"] == "result.tool_calls[0].arguments"
    assert caught.value.message.startswith("result.tool_calls[0].arguments: not valid JSON")
    assert caught.value.message.endswith("(call 1, book)")


def test_a_reviewer_corrects_a_calls_arguments_and_bad_json_keeps_what_they_typed(
    client: TestClient, db: Session, team: dict[str, User], project: Project, task: Task
) -> None:
    call = {"name": "get_weather", "arguments": {"city": "Porto"}}
    answer = factories.make_annotation(db, task, team["annotator"], {"response": "", "tool_calls": [call]})
    csrf = sign_in(client, team["reviewer"].id)
    page = client.get(f"/projects/{project.id}/review/{task.id}")
    assert page.status_code == 200
    assert "get_weather({&#34;city&#34;:&#34;Porto&#34;})" in page.text  # shown as name(arguments)
    assert re.search(
        r'<textarea name="tool_args__0"[^>]*>\{\n  &#34;city&#34;: &#34;Porto&#34;\n\}</textarea>', page.text
    )
    form = {"csrf_token": csrf, "uuid": answer.uuid, "verdict": "correct", "response": "",
            "tool_name__0": "get_weather", "tool_args__0": '{"city": "Lisbon"'}  # fmt: skip
    bad = client.post(f"/projects/{project.id}/review", data=form, headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert (
        "result.tool_calls[0].arguments: not valid JSON" in bad.text and "(call 1, get_weather)" in bad.text
    )
    assert "{&#34;city&#34;: &#34;Lisbon&#34;</textarea>" in bad.text  # what they typed, kept
    wrong = client.post(
        f"/projects/{project.id}/review",
        data={**form, "tool_args__0": '{"city": 7}'},
        headers={"HX-Request": "true"},
    )
    assert wrong.status_code == 422 and "result.tool_calls[0].arguments.city: 7 is not of type" in wrong.text
    ok = client.post(
        f"/projects/{project.id}/review",
        data={**form, "tool_args__0": '{"city": "Lisbon"}'},
        headers={"HX-Request": "true"},
    )
    assert ok.status_code == 200, ok.text
    review = db.scalars(select(Review).where(Review.annotation_id == answer.id)).one()
    assert review.result == {
        "response": "",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}],
    }


# ── the annotate page ─────────────────────────────────────────────────────────────────────────────────
def test_the_annotate_page_opens_the_drafted_call_in_the_calls_editor(
    client: TestClient, db: Session, team: dict[str, User], project: Project
) -> None:
    factories.make_task(db, project, _agent_prompt(text="Let me look."), [], tools=TOOLS)
    sign_in(client, team["annotator"].id)
    page = client.get(f"/projects/{project.id}/annotate")
    assert page.status_code == 200
    html = page.text
    assert 'class="sft-calls"' in html and "Add a tool call" in html
    (editor,) = re.findall(r'<textarea name="response"[^>]*>([^<]*)</textarea>', html)
    assert editor == "Let me look."
    assert re.search(r'<option value="get_weather" selected>get_weather</option>', html)
    assert re.search(
        r'<textarea class="call-args"[^>]*>\{\n  &#34;city&#34;: &#34;Porto&#34;\n\}</textarea>', html
    )
    assert "Weather in Porto?" in html
    assert '<code class="fn">get_weather</code>' not in html  # the drafted call is not shown as prompt
    assert "Remove" in html and "Schema of" in html


def test_a_plain_sft_task_has_no_calls_editor(
    client: TestClient, db: Session, team: dict[str, User], project: Project
) -> None:
    factories.make_task(db, project, "Say hi.", ["Hi."])
    sign_in(client, team["annotator"].id)
    html = client.get(f"/projects/{project.id}/annotate").text
    assert 'class="sft-calls"' not in html and 'class="editor"' in html


# ── export rows ───────────────────────────────────────────────────────────────────────────────────────
def _rows(prompt: Any, responses: list[dict[str, Any]], results: list[dict[str, Any]], style: str) -> Any:
    sft = get_kind("sft")
    record = TaskRecord(1, None, prompt, responses, None, meta={"tools": TOOLS})
    record.votes = [Vote(i + 1, 100 + i, r, reviewed=False) for i, r in enumerate(results)]
    form = RowForm(
        options=Aggregation(mode="all", sft_style=style), chat=True, settings=sft.validate_settings({})
    )
    return sft.export_rows("sft", record, form, Counter())


def test_export_writes_the_calls_after_the_context_and_the_draft_is_not_repeated() -> None:
    fixed = {
        "response": "Checking.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}],
    }
    (row, plain) = _rows(_agent_prompt(), [], [fixed, {"response": "It is sunny."}], "messages")
    assert row["messages"] == [
        {"role": "user", "content": "Weather in Porto?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Lisbon"}'}}]},
    ]  # fmt: skip
    assert plain["messages"][-1] == {"role": "assistant", "content": "It is sunny."}
    (text,) = _rows(_agent_prompt(), [], [fixed], "prompt_completion")
    assert text == {
        "prompt": "User: Weather in Porto?",
        "completion": 'Checking.\nget_weather({"city":"Lisbon"})',
    }
    (calls_only,) = _rows(
        "Weather?",
        [{"id": "a", "text": "x"}],
        [{"response": "", "tool_calls": fixed["tool_calls"]}],
        "prompt_completion",
    )
    assert calls_only["completion"] == 'get_weather({"city":"Lisbon"})'


def test_export_of_text_demonstrations_is_as_before() -> None:
    prompt = [{"role": "user", "content": "Hi"}]
    assert _rows(prompt, [{"id": "a", "text": "Hey"}], [{"response": "Hello."}], "messages") == [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    ]
    assert _rows("Hi", [], [{"response": "Hello."}], "prompt_completion") == [
        {"prompt": "Hi", "completion": "Hello."}
    ]
