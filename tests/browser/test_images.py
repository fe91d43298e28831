"""A pairwise task about an image, in Chromium with the keyboard only: the image shows at its placeholder
in the prompt, Enter on it zooms it and Esc gives the focus back, and the choice is stored by id."""

from __future__ import annotations

import base64

from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_annotate import _project, _stored
from tests.browser.test_rewrites import _shot


def _uri(color: tuple[int, int, int]) -> str:
    data = factories.image_bytes("PNG", (320, 200), color)
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_pairwise_image_task_by_keyboard(page: Page, live_server: str) -> None:
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Look: <image> Which caption fits picture {i}?"}],
            "images": [_uri((200, 30 + 40 * i, 40))],
            "responses": [{"id": "red", "text": "A red rectangle."}, {"id": "blue", "text": "A blue sky."}],
        }
        for i in range(2)
    ]
    project_id, email = _project("pairwise", rows)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    task = page.locator("#workspace section.task")
    image = task.locator(".prompt button.image-zoom img")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("alt", "Image 1 of the task")
    # the image sits where the placeholder was: between the two halves of the text
    text = task.locator(".prompt .turn.user .md").inner_text()
    assert text.index("Look:") < text.index("Which caption") and "<image>" not in text
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 320  # it really loaded
    _shot(page, "image-task")

    task.locator(".prompt button.image-zoom").focus()
    page.keyboard.press("Enter")
    zoomed = page.locator("dialog#image-zoom[open] img")
    expect(zoomed).to_be_visible()
    _shot(page, "image-zoomed")
    page.keyboard.press("Escape")
    expect(zoomed).to_have_count(0)
    expect(task.locator(".prompt button.image-zoom")).to_be_focused()
    assert _stored(project_id) == []  # Enter on the image zoomed it; it did not submit
    page.add_script_tag(url="/static/vendor/axe.min.js")
    assert page.evaluate(AXE) == []

    task.focus()
    shown = [r.get_attribute("data-id") for r in task.locator(".response").all()]
    page.keyboard.press("1" if shown[0] == "red" else "2")
    page.keyboard.press("w")
    page.keyboard.press("Enter")
    first = task.get_attribute("data-task")
    expect(page.locator(f'#workspace section.task:not([data-task="{first}"])')).to_be_visible()
    ((annotation, _),) = _stored(project_id)
    assert annotation.result == {"choice": "red", "strength": 1}
