"""An annotator labels an agent's trajectory step by step in Chromium, with the keyboard only: j / k walk
the steps, digits label the current one and move on, w marks the first wrong step, c writes a comment,
Enter submits; the answer names each step by its message index, and the stepwise export reads it."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored
from tests.browser.test_rewrites import _shot


def _call(i: int, name: str, arguments: dict) -> dict:  # type: ignore[type-arg]
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": f"c{i}", "type": "function", "function": function}


def _trajectory(n: int) -> dict:  # type: ignore[type-arg]
    return {
        "messages": [
            {"role": "system", "content": "You book travel. Use the tools."},
            {"role": "user", "content": f"Book the cheapest hotel in Porto for night {n}."},
            {"role": "assistant", "content": [{"type": "reasoning", "text": "Search first."}],
             "tool_calls": [_call(1, "search_hotels", {"city": "Porto"})]},
            {"role": "tool", "tool_call_id": "c1", "name": "search_hotels",
             "content": json.dumps([{"name": "Ribeira Inn", "eur": 80}, {"name": "Douro", "eur": 240}])},
            {"role": "assistant", "content": "Booking the Douro.",
             "tool_calls": [_call(2, "book", {"hotel": "Douro"})]},
            {"role": "tool", "tool_call_id": "c2", "name": "book", "content": '{"ok": true}'},
            {"role": "assistant", "content": "Booked the Douro, the cheapest."},
        ],
        "tools": [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
                  for name in ("search_hotels", "book")],
    }  # fmt: skip


def test_a_trajectory_labelled_step_by_step_by_keyboard(page: Page, live_server: str) -> None:
    project_id, email = _project("trajectory", [_trajectory(0), _trajectory(1)])
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    task = page.locator("#workspace section.task")
    steps = task.locator(".step[data-step]")
    expect(steps).to_have_count(3)
    # the prompt card holds the context only; the steps show their calls and results
    expect(task.locator(".prompt .turn")).to_have_count(2)
    expect(steps.nth(0).locator(".tool-call .fn")).to_have_text("search_hotels")
    expect(steps.nth(1).locator(".step-result")).to_contain_text('"ok": true')

    page.keyboard.press("1")  # step 1 good, on to step 2
    expect(steps.nth(1)).to_have_class("step turn assistant current")
    page.keyboard.press("3")  # step 2 bad (it books the dearer hotel), on to step 3
    page.keyboard.press("k")  # back to step 2
    page.keyboard.press("w")  # the first wrong step
    expect(steps.nth(1).locator(".first-wrong")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("j")
    page.keyboard.press("3")  # step 3 bad too: it says "cheapest"
    page.keyboard.press("c")
    expect(task.locator(".trajectory-comment")).to_be_focused()
    page.keyboard.type("Booked the dearer hotel.")
    page.keyboard.press("Escape")
    _shot(page, "trajectory-labelled")
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []
    first = task.get_attribute("data-task")
    page.keyboard.press("Enter")
    expect(page.locator(f'#workspace section.task:not([data-task="{first}"])')).to_be_visible()

    ((annotation, _),) = _stored(project_id)
    assert annotation.result == {
        "steps": {"2": "good", "4": "bad", "6": "bad"},
        "first_wrong": 4,
        "comment": "Booked the dearer hotel.",
    }

    # a step left unlabelled is refused in place, and nothing is stored
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("step")
    assert len(_stored(project_id)) == 1
