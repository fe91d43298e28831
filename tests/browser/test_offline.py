"""Nothing loads from outside the instance: over a walk of every page type (signed out, as an annotator, as
an admin, the API docs too) Chromium asks no other host for anything. Requests to another host are
recorded and refused on the spot, so the walk never reaches out even when it fails."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.walk import Stop, Walk, seed_walk

LOCAL_SCHEMES = {"data", "blob", "about"}  # no network: content the page already holds


class Recorder:
    def __init__(self, context: BrowserContext, base: str) -> None:
        self.origin = urlsplit(base)[:2]  # scheme and host:port of the instance
        self.seen: list[str] = []
        self.elsewhere: list[str] = []
        context.on("request", self.record)
        context.route("**/*", self.guard)

    def foreign(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in LOCAL_SCHEMES and (parts.scheme, parts.netloc) != self.origin

    def record(self, request) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(request.url)
        if self.foreign(request.url):
            self.elsewhere.append(f"{request.frame.url if request.frame else '?'} -> {request.url}")

    def guard(self, route: Route) -> None:
        if self.foreign(route.request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()


@pytest.fixture
def recorded(browser: Browser, live_server: str) -> Iterator[tuple[Page, Recorder]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    recorder = Recorder(context, live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(120_000)  # the leaderboard and loop pages fit models while loading
    yield page, recorder
    context.close()


def visit(page: Page, base: str, stop: Stop) -> None:
    page.goto(f"{base}{stop.path}")
    page.wait_for_load_state("networkidle")
    expect(page.locator(stop.shown).first).to_be_visible(timeout=30_000)


def test_a_walk_of_every_page_asks_no_other_host(
    recorded: tuple[Page, Recorder], live_server: str, committed: None
) -> None:
    page, recorder = recorded
    walk: Walk = seed_walk()
    for stop in walk.signed_out:
        visit(page, live_server, stop)
    login_with_keyboard(page, live_server, walk.annotator)
    for stop in walk.annotator_pages:
        visit(page, live_server, stop)
    page.context.clear_cookies()
    login_with_keyboard(page, live_server, walk.admin)
    for stop in walk.admin_pages:
        visit(page, live_server, stop)
    # Swagger UI once more, opened up: an operation's details and "Try it out" load nothing either
    page.locator("#swagger-ui .opblock-summary-control").first.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.wait_for_load_state("networkidle")
    assert recorder.elsewhere == [], "\n".join(recorder.elsewhere)
    # the walk did load the instance's own files: styles, scripts, the charts' library, the icon
    paths = {urlsplit(url).path for url in recorder.seen}
    assert {"/static/app.css", "/static/vendor/htmx.min.js", "/static/vendor/uplot/uPlot.iife.min.js",
            "/static/favicon.svg", "/api/v1/openapi.json"} <= paths, sorted(paths)  # fmt: skip


def test_the_recorder_catches_a_request_to_another_host(
    recorded: tuple[Page, Recorder], live_server: str
) -> None:
    """The check itself works: a link to another host, followed, is recorded (and goes nowhere)."""
    page, recorder = recorded
    page.goto(f"{live_server}/login")
    page.evaluate(
        "() => { const a = document.createElement('a'); a.href = 'https://cdn.example.com/lib.js';"
        " a.textContent = 'elsewhere'; document.querySelector('main').append(a); }"
    )
    page.get_by_role("link", name="elsewhere").click()
    page.wait_for_timeout(300)
    assert recorder.elsewhere and recorder.elsewhere[0].endswith("-> https://cdn.example.com/lib.js")
