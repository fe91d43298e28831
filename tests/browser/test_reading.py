"""Reading a task from the keyboard: highlighted code shows every token, and long responses scroll by key
with a visible ring on the one that scrolls."""

from __future__ import annotations

import os

from playwright.sync_api import Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.test_annotate import _project

SHOTS = os.environ.get("PREFLAB_SHOTS")  # a folder: the tests leave screenshots of what they check there

REGEX_CODE = "```js\nconst clean = html.replace(/<script.*?>/gi, '');\n```"


def test_regex_literals_in_highlighted_code_are_on_screen(page: Page, live_server: str) -> None:
    rows = [{"prompt": "Strip the script tags", "responses": [REGEX_CODE, "Use a sanitizer."]}]
    project_id, email = _project("pairwise", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    code = page.locator(".response pre").filter(has_text="replace")
    expect(code).to_contain_text("/<script.*?>/gi")
    regex = code.locator("span", has_text="/<script.*?>/gi")
    expect(regex).to_be_visible()
    box, card = regex.bounding_box(), code.bounding_box()
    assert box is not None and card is not None
    assert card["x"] <= box["x"] < card["x"] + card["width"] and box["y"] >= 0  # inside the code block
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/defects-b-regex.png")


def _scroll_top(page: Page, index: int) -> float:
    return float(page.locator(".response").nth(index).evaluate("el => el.scrollTop"))


def _has_ring(page: Page, index: int) -> bool:
    style = (
        page.locator(".response")
        .nth(index)
        .evaluate("el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }")
    )
    return bool(style[0] != "none" and float(style[1].removesuffix("px")) >= 2)


def test_long_responses_scroll_by_key_and_the_focused_one_has_a_ring(page: Page, live_server: str) -> None:
    long_text = "\n\n".join(f"Paragraph {i}: " + "a long line of reasoning " * 12 for i in range(40))
    rows = [{"prompt": "Which is clearer?", "responses": [long_text, long_text.replace("Paragraph", "Part")]}]
    project_id, email = _project("pairwise", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    expect(page.locator(".response")).to_have_count(2)
    assert _has_ring(page, 0) and not _has_ring(page, 1)  # the first response has the focus at first

    page.keyboard.press("Space")
    page.wait_for_function("document.querySelectorAll('.response')[0].scrollTop > 100")
    assert _scroll_top(page, 1) == 0
    page.keyboard.press("ArrowRight")  # to response B
    assert _has_ring(page, 1) and not _has_ring(page, 0)
    page.keyboard.press("Space")
    page.keyboard.press("Space")
    page.wait_for_function("document.querySelectorAll('.response')[1].scrollTop > 200")
    scrolled = _scroll_top(page, 1)
    page.keyboard.press("Shift+Space")
    page.wait_for_function(f"document.querySelectorAll('.response')[1].scrollTop < {scrolled}")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/defects-b-reading.png")

    page.keyboard.press("?")
    expect(page.locator("#keymap")).to_contain_text("Scroll the focused response")
    page.keyboard.press("Escape")
    page.keyboard.press("1")  # the answer keys still work
    page.keyboard.press("w")
    page.keyboard.press("Enter")
    expect(page.locator("#workspace .task.done")).to_be_visible()
