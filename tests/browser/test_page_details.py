"""What a person sees on the dashboard and in the browser's tab: the icon is served, the annotator table
fits its card, and chart labels are readable."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from app.core.db import session_scope
from app.models import Role
from tests import factories
from tests.browser.conftest import login_with_keyboard

SHOTS = os.environ.get("PREFLAB_SHOTS")


def _busy_pairwise_project() -> tuple[int, str]:
    """A pairwise project with figures in every column of the dashboard: gold, judge, times, agreement."""
    with session_scope() as session:
        lead = factories.make_user(session, email="project.lead.with.a.long.address@example.test")
        project = factories.make_project(session, kind="pairwise", lead=lead, settings={"overlap": 3})
        people = [
            factories.make_user(session, email=f"annotator.number.{i}.of.the.team@example.test")
            for i in range(3)
        ]
        for person in people:
            factories.add_member(session, project, person, Role.annotator)
        for i in range(24):
            task = factories.make_task(session, project, f"Question {i}?", [f"Answer {i}", f"Other {i}"])
            if i % 4 == 0:
                task.gold = {"choice": "a"}
            factories.make_suggestion(session, task)
            for j, person in enumerate(people):
                choice = "a" if (i + j) % 3 else "b"
                annotation = factories.make_annotation(
                    session, task, person, {"choice": choice, "strength": 1}
                )
                annotation.lead_time_ms = 1500 + 4000 * ((i * j) % 7)
        return project.id, lead.email


def test_pages_link_an_icon_that_is_served(page: Page, live_server: str) -> None:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(f"{live_server}/login")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon, "the page links an icon"
    assert page.request.get(f"{live_server}{icon}").status == 200
    assert page.request.get(f"{live_server}/favicon.ico").status == 200  # for pages that link none
    assert missing == []


@pytest.fixture
def dashboard(browser: Browser, live_server: str, committed: None) -> Iterator[Page]:
    """The dashboard of a busy project at 1400 px, the width where the table overflowed."""
    project_id, email = _busy_pairwise_project()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/dashboard")
    yield page
    context.close()


def test_the_annotator_table_fits_its_card_at_1400_px(dashboard: Page) -> None:
    table = dashboard.locator("table.annotators")
    assert table.locator("tbody tr").count() == 3
    scroll_width, right, card_right, inner = table.evaluate(
        "t => { const card = t.closest('.card'); const box = card.getBoundingClientRect();"
        " const s = getComputedStyle(card);"
        " const inner = box.width - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);"
        " return [t.scrollWidth, t.getBoundingClientRect().right, box.right, inner]; }"
    )
    assert scroll_width <= inner + 1 and right <= card_right, (scroll_width, inner)


def test_chart_labels_are_drawn_at_11_px_or_more(dashboard: Page) -> None:
    labels = dashboard.locator(".dash svg text, .dash .axis > *")
    assert labels.count() >= 3
    # the size on screen: an SVG's text shrinks with the SVG, HTML text does not
    sizes = labels.evaluate_all(
        "els => els.map(el => { const svg = el.closest('svg');"
        " return parseFloat(getComputedStyle(el).fontSize) * (svg ? svg.getScreenCTM().a : 1); })"
    )
    assert min(sizes) >= 11, sizes
    if SHOTS:
        dashboard.set_viewport_size({"width": 1280, "height": 800})
        dashboard.screenshot(path=f"{SHOTS}/defects-b-dashboard.png", full_page=True)


def test_the_json_link_under_the_figures_opens_in_the_browser_that_shows_them(dashboard: Page) -> None:
    """The dashboard's "JSON: GET /api/v1/…" is a link the signed-in browser can follow (it answered 401:
    the API knew only tokens). A write with only the cookie is still refused: it would need no CSRF token."""
    link = dashboard.get_by_role("link", name="GET /api/v1/projects/")
    href = link.get_attribute("href")
    assert href and href.endswith("/stats")
    with dashboard.expect_navigation():
        link.click()
    figures = dashboard.evaluate("() => JSON.parse(document.body.innerText)")
    assert figures["progress"]["annotations"] == 72 and figures["agreement"]["alpha_nominal"], figures
    write = dashboard.request.post(dashboard.url.replace("/stats", "/rounds"), data={"name": "R"})
    assert write.status == 401
