"""axe-core (from npm, served as static/vendor/axe.min.js) runs in Chromium over every page type: signed out,
as an annotator, as an admin, with data on each page. None may have a serious or critical violation. Focus
is visible on whatever takes it, and Tab reaches every control of the pages people work on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import login_with_keyboard
from tests.browser.walk import Stop, Walk, seed_walk

SHOTS = os.environ.get("PREFLAB_SHOTS")

# The serious and critical violations axe finds on the page as it is now, one line each.
AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ` +
      v.nodes.slice(0, 4).map((n) => n.target.join(" ") + (n.failureSummary ? " [" +
        n.failureSummary.replace(/\\s+/g, " ").slice(0, 160) + "]" : "")).join("; "));
}"""


def audit(page: Page, base: str, stop: Stop) -> list[str]:
    page.goto(f"{base}{stop.path}")
    page.wait_for_load_state("networkidle")  # htmx's load-triggered blocks are in, and checked too
    expect(page.locator(stop.shown).first).to_be_visible(timeout=30_000)  # Swagger UI is slow on a busy box
    page.add_script_tag(url="/static/vendor/axe.min.js")  # a file of the instance: the CSP allows it
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/a11y-{stop.name}.png")  # the 1280x800 window
        page.screenshot(path=f"{SHOTS}/a11y-{stop.name}-full.png", full_page=True)
    return [f"{stop.path}: {line}" for line in page.evaluate(AXE)]


@pytest.fixture
def walk(committed: None) -> Walk:
    return seed_walk()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # overrides conftest's: a longer navigation timeout
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    # the leaderboard and the loop fit their models while the page waits: seconds, and more on a busy box
    page.set_default_navigation_timeout(120_000)
    yield page
    context.close()


def test_axe_finds_no_serious_violation_on_any_page_type(page: Page, live_server: str, walk: Walk) -> None:
    found: list[str] = []
    for stop in walk.signed_out:
        found += audit(page, live_server, stop)
    login_with_keyboard(page, live_server, walk.annotator)
    for stop in walk.annotator_pages:
        found += audit(page, live_server, stop)
    page.context.clear_cookies()
    login_with_keyboard(page, live_server, walk.admin)
    for stop in walk.admin_pages:
        found += audit(page, live_server, stop)
    assert found == [], "\n".join(found)


def test_the_audit_catches_what_it_should(page: Page, live_server: str) -> None:
    """The pass itself works: a nameless button and grey-on-grey text on a real page are reported."""
    page.goto(f"{live_server}/login")
    page.evaluate(
        "() => { const b = document.createElement('button'); document.querySelector('main').append(b);"
        " const p = document.createElement('p'); p.textContent = 'faint'; p.className = 'muted';"
        " p.style.color = '#ccc'; document.querySelector('main').append(p); }"
    )
    page.add_script_tag(url="/static/vendor/axe.min.js")
    found = " ".join(page.evaluate(AXE))
    assert "button-name (critical)" in found and "color-contrast (serious)" in found, found


# One press of Tab: what has the focus now, and whether it shows (an outline or a ring drawn as a shadow).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  (window.__reached = window.__reached || new Set()).add(el);
  const s = getComputedStyle(el);
  const shown = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
  const label = (el.getAttribute("aria-label") || el.textContent || el.name || "").trim().slice(0, 40);
  const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} ${label}`;
  return { name, shown, first: window.__reached.size === 1 };
}"""

# Every control on the page a keyboard user should be able to reach and Tab did not (a radio group counts
# as reached through any of its radios: Tab enters a group once, the arrow keys move inside it), and every
# box that scrolls with nothing inside it that Tab reached.
UNREACHED = """() => {
  const reached = window.__reached || new Set();
  const groups = new Set([...reached].filter((el) => el.type === "radio").map((el) => el.name));
  const controls = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])");
  // a box whose content scrolls, with nothing in it to focus, must take the focus itself to be scrolled
  const scrolls = [...document.querySelectorAll("main *")].filter((el) => {
    const s = getComputedStyle(el);
    const y = /(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight + 1;
    const x = /(auto|scroll)/.test(s.overflowX) && el.scrollWidth > el.clientWidth + 1;
    return (x || y) && ![...el.querySelectorAll("*")].some((c) => reached.has(c));
  });
  return [...controls, ...scrolls]
    .filter((el) => !el.disabled && el.checkVisibility({ visibilityProperty: true }))
    .filter((el) => !el.closest("[inert]") && !reached.has(el))
    .filter((el) => !(el.type === "radio" && groups.has(el.name)))
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${(el.textContent || "").trim().slice(0, 40)}`);
}"""


def tab_through(page: Page, limit: int = 400) -> tuple[list[str], list[str]]:
    """Tab from the top of the page until the focus comes round again; the stops without a visible focus,
    and the controls never reached."""
    page.evaluate("() => { window.__reached = new Set(); document.activeElement?.blur(); }")
    hidden: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None:
            continue
        if not stop["shown"]:
            hidden.append(stop["name"])
        if (
            stop["first"] is False
            and page.evaluate("() => window.__reached.size")
            and page.evaluate("() => document.activeElement === [...window.__reached][0]")
        ):
            break
    return hidden, page.evaluate(UNREACHED)


def test_the_keyboard_reaches_every_control_and_shows_where_it_is(
    page: Page, live_server: str, walk: Walk
) -> None:
    """A spot check with Tab on the pages people work on: each control takes the focus in turn, and the
    focus is visible wherever it lands."""
    problems: list[str] = []

    def check(stop: Stop) -> None:
        page.goto(f"{live_server}{stop.path}")
        page.wait_for_load_state("networkidle")
        expect(page.locator(stop.shown).first).to_be_visible()
        hidden, unreached = tab_through(page)
        problems.extend(f"{stop.path}: focus not visible on {name}" for name in hidden)
        problems.extend(f"{stop.path}: Tab never reaches {name}" for name in unreached)

    login_with_keyboard(page, live_server, walk.annotator)
    for stop in walk.annotator_pages:
        if stop.name in ("annotate-pairwise", "annotate-rating", "annotate-classification"):
            check(stop)
    page.context.clear_cookies()
    login_with_keyboard(page, live_server, walk.admin)
    wanted = {"overview-pairwise", "dashboard", "loop", "review-task", "settings-pairwise", "members",
              "job-training", "jobs-compare", "prelabel-review", "snapshot", "account"}  # fmt: skip
    for stop in [s for s in walk.admin_pages if s.name in wanted]:
        check(stop)
    assert problems == [], "\n".join(problems)
