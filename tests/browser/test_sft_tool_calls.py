"""An annotator corrects an agent's drafted tool call in Chromium, with the keyboard only: the draft's call
opens in the calls editor (its function, its arguments as indented JSON, the tool's schema on demand), a
live note says whether the arguments parse, the server's schema error shows in place and names the call,
and once fixed the answer is stored with the corrected arguments; undo puts the calls back in the form."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored
from tests.browser.test_rewrites import _shot

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "The forecast for a city",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}}}},
    {"type": "function", "function": {
        "name": "book_hotel", "parameters": {"type": "object", "properties": {"hotel": {"type": "string"}}}}},
]  # fmt: skip


def _row(i: int) -> dict:  # type: ignore[type-arg]
    arguments = json.dumps({"city": "Porto", "days": "three"})
    call = {
        "id": f"call_{i}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }
    return {
        "prompt": [
            {"role": "system", "content": "You are a travel agent with tools."},
            {"role": "user", "content": f"What will the weather be in Porto over the next {3 + i} days?"},
            {"role": "assistant", "content": "Let me check the forecast.", "tool_calls": [call]},
        ],
        "responses": [],
        "tools": TOOLS,
    }


def _retype(page: Page, text: str) -> None:
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def test_an_annotator_corrects_a_drafted_call_by_keyboard(page: Page, live_server: str) -> None:
    project_id, email = _project("sft", [_row(0), _row(1)])
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    task = page.locator("#workspace section.task")
    status = page.locator("#status")
    editor = task.locator("textarea.editor")
    call = task.locator(".sft-calls .call").first
    args = call.locator("textarea.call-args")
    select = call.locator("select.call-name")
    note = call.locator(".call-note")

    # the draft: its text in the editor, its call in the calls editor, not shown again in the prompt
    expect(editor).to_have_value("Let me check the forecast.")
    expect(select).to_have_value("get_weather")
    expect(args).to_have_value('{\n  "city": "Porto",\n  "days": "three"\n}')
    expect(note).to_have_text("valid JSON")
    expect(task.locator(".prompt .tool-call")).to_have_count(0)
    _shot(page, "sft-call-draft")

    # e opens the editor; Tab goes on to the call's function, then its arguments
    page.keyboard.press("e")
    expect(editor).to_be_focused()
    while not page.evaluate("document.activeElement.classList.contains('call-name')"):
        page.keyboard.press("Tab")
    expect(select).to_be_focused()
    page.keyboard.press("Tab")
    expect(args).to_be_focused()
    _retype(page, '{"city": "Porto", "days": ')
    expect(note).to_contain_text("not valid JSON")
    page.keyboard.press("Control+Enter")  # does not parse: the page says so and sends nothing
    expect(status).to_contain_text("tool call 1 (get_weather): the arguments are not valid JSON")
    _shot(page, "sft-call-bad-json")

    # parses, but breaks the schema: the server's 422 shows in place and names the call and the path
    page.keyboard.type('"3"}')
    expect(note).to_have_text("valid JSON")
    page.keyboard.press("Control+Enter")
    expect(status).to_contain_text(
        "Not saved: result.tool_calls[0].arguments.days: '3' is not of type 'integer' (call 1, get_weather)"
    )
    expect(args).to_be_focused()  # still in place, to fix
    expect(note).to_have_text(  # and said again under the call's arguments
        "result.tool_calls[0].arguments.days: '3' is not of type 'integer' (call 1, get_weather)"
    )
    expect(note).to_have_attribute("data-level", "error")
    _shot(page, "sft-call-schema-error")
    assert _stored(project_id) == []

    # the tool's schema opens on demand
    page.keyboard.press("Tab")
    schema = call.locator("details.call-schema")
    expect(schema.locator("summary")).to_be_focused()
    page.keyboard.press("Enter")
    expect(schema.locator("pre")).to_contain_text('"maximum": 7')
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []

    # fix it; Ctrl+Enter submits from inside the arguments
    args.focus()
    _retype(page, '{"city": "Porto", "days": 3}')
    expect(note).to_have_text("valid JSON")
    page.keyboard.press("Control+Enter")
    expect(status).to_have_text("Saved.")
    ((annotation, _),) = _stored(project_id)
    assert annotation.result == {
        "response": "Let me check the forecast.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Porto", "days": 3}}],
    }

    # the next task: a call added with the keyboard (Enter presses the button, it does not submit)
    expect(task).not_to_have_attribute("data-task", str(annotation.task_id))
    add = task.locator(".add-call")
    add.focus()
    page.keyboard.press("Enter")
    added = task.locator(".sft-calls .call").nth(1)
    expect(added.locator("select.call-name")).to_be_focused()
    expect(added.locator(".call-n").first).to_have_text("2")
    assert len(_stored(project_id)) == 1
    page.keyboard.press("ArrowDown")  # the second tool
    expect(added.locator("select.call-name")).to_have_value("book_hotel")
    expect(added.locator(".call-schema pre")).to_contain_text('"hotel"')
    page.keyboard.press("Tab")
    _retype(page, '{"hotel": "Ribeira Inn"}')
    task.locator(".sft-calls .call").first.locator("textarea.call-args").focus()
    _retype(page, '{"city": "Porto", "days": 4}')
    _shot(page, "sft-call-added")
    second_task = task.get_attribute("data-task")
    page.keyboard.press("Control+Enter")
    # the status still says "Saved." from the first answer: wait for this task to leave the page instead
    expect(page.locator(f'#workspace section.task[data-task="{second_task}"]')).to_have_count(0)
    second = _stored(project_id)[1][0]
    assert second.result["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Porto", "days": 4}},
        {"name": "book_hotel", "arguments": {"hotel": "Ribeira Inn"}},
    ]

    # undo puts the answer's calls back in the form; Remove drops one and the answer is changed
    page.locator("body").focus()
    page.keyboard.press("u")
    expect(status).to_contain_text("Changing your last answer")
    restored = page.locator("#workspace section.task .sft-calls .call")
    expect(restored).to_have_count(2)
    expect(restored.nth(1).locator("select.call-name")).to_have_value("book_hotel")
    expect(restored.nth(0).locator("textarea.call-args")).to_have_value(
        '{\n  "city": "Porto",\n  "days": 4\n}'
    )
    restored.nth(1).locator(".remove-call").focus()
    page.keyboard.press("Enter")
    expect(restored).to_have_count(1)
    _shot(page, "sft-call-undo")
    page.locator("#workspace section.task").focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Your answer was changed.")
    assert _stored(project_id)[1][0].result["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Porto", "days": 4}}
    ]
