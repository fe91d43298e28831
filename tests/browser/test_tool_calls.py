"""An annotator judges two final replies of an agent conversation in Chromium, with the keyboard only: the
calls show their function and arguments, a long tool result is folded and opens from the keyboard, the
reasoning is set apart, the task's tool schemas open on demand, and the choice is stored by response id."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored
from tests.browser.test_rewrites import _shot

HOTELS = json.dumps(
    {"hotels": [{"name": f"Hotel {i}", "stars": 3 + i % 3, "price_eur": 80 + 7 * i} for i in range(30)]}
)


def _row(i: int) -> dict:  # type: ignore[type-arg]
    return {
        "prompt": [
            {"role": "system", "content": "You are a travel agent with tools."},
            {"role": "user", "content": f"Find me a cheap hotel in Porto for night {i}."},
            {
                "role": "assistant",
                "content": [{"type": "reasoning", "text": "Search first, then pick the cheapest."},
                            {"type": "text", "text": "Let me search."}],
                "tool_calls": [{"id": f"call_{i}", "type": "function", "function": {
                    "name": "search_hotels", "arguments": json.dumps({"city": "Porto", "max_price": 120})}}],
            },
            {"role": "tool", "tool_call_id": f"call_{i}", "name": "search_hotels", "content": HOTELS},
        ],
        "responses": [
            {"id": "cheapest", "text": "**Hotel 0** is the cheapest at 80 €."},
            {"id": "vague", "text": "There are several hotels."},
        ],
        "tools": [{"type": "function", "function": {
            "name": "search_hotels", "description": "Hotels in a city under a price",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                            "max_price": {"type": "number"}}}}}],
    }  # fmt: skip


def test_a_pairwise_tool_task_by_keyboard(page: Page, live_server: str) -> None:
    project_id, email = _project("pairwise", [_row(0), _row(1)])
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    task = page.locator("#workspace section.task")
    call = task.locator(".tool-call")
    expect(call.locator(".fn")).to_have_text("search_hotels")
    expect(call.locator("pre.args")).to_have_text('{\n  "city": "Porto",\n  "max_price": 120\n}')
    expect(task.locator(".reasoning")).to_contain_text("Search first, then pick the cheapest.")
    result = task.locator("details.tool-result")
    expect(result).not_to_have_attribute("open", "")  # long: folded
    expect(result.locator("pre")).not_to_be_visible()
    _shot(page, "tool-call-task")

    # the folded result opens from the keyboard; Enter there opens it, it does not submit the task
    result.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(result.locator("pre")).to_be_visible()
    expect(result.locator("pre")).to_contain_text('"Hotel 29"')
    call.scroll_into_view_if_needed()
    _shot(page, "tool-call-opened")
    schemas = task.locator("details.tool-schemas")
    schemas.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(schemas.locator("pre")).to_contain_text('"description": "Hotels in a city under a price"')
    assert _stored(project_id) == []
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []

    task.focus()
    shown = [r.get_attribute("data-id") for r in task.locator(".response").all()]
    page.keyboard.press("1" if shown[0] == "cheapest" else "2")
    page.keyboard.press("w")  # strength: "Slightly better"
    page.keyboard.press("Enter")
    expect(
        page.locator(f'#workspace section.task:not([data-task="{task.get_attribute("data-task")}"])')
    ).to_be_visible()
    ((annotation, _),) = _stored(project_id)
    assert annotation.result == {"choice": "cheapest", "strength": 1}
