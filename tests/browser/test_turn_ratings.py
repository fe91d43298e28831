"""Per-turn ratings on an imported multi-turn task, by keyboard only: ] walks the conversation's assistant
turns, digits rate the current one, F flags it, C comments; ] past the last gives the keys back."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored
from tests.browser.test_rewrites import _shot

CONVERSATION = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "A cheap city break in May?"},
    {"role": "assistant", "content": "Porto: flights from 40 EUR, mild weather."},
    {"role": "user", "content": "How many museums does it have?"},
    {"role": "assistant", "content": "Exactly 412 museums."},
    {"role": "user", "content": "Which one first?"},
]


def test_rating_the_turns_of_a_conversation(page: Page, live_server: str) -> None:
    rows = [{"prompt": CONVERSATION, "responses": ["Serralves.", "The Louvre."]}]
    project_id, email = _project("pairwise", rows, turn_ratings=True)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    turns = page.locator("#workspace .turn[data-turn]")
    expect(turns).to_have_count(2)
    page.keyboard.press("]")
    expect(turns.first).to_have_class("turn assistant current-rate")
    page.keyboard.press("3")  # good
    page.keyboard.press("]")
    page.keyboard.press("1")  # bad
    page.keyboard.press("F")
    page.keyboard.press("C")
    expect(turns.nth(1).locator(".turn-comment")).to_be_focused()
    page.keyboard.type("made up a number")
    page.keyboard.press("Escape")
    _shot(page, "annotate-turn-ratings")
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []
    page.keyboard.press("]")  # past the last turn: 1/2 choose a response again
    expect(page.locator("#status")).to_have_text("Keys are the answer's again")
    page.keyboard.press("2")
    page.keyboard.press("q")
    page.keyboard.press("Enter")
    expect(page.locator("#workspace .task.done")).to_be_visible()
    ((annotation, lease),) = _stored(project_id)
    assert annotation.result == {
        "choice": lease.order[1],
        "strength": 0,
        "turns": {"2": {"rating": 2}, "4": {"rating": 0, "flag": True, "comment": "made up a number"}},
    }
