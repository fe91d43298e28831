"""Charts people read values off are drawn in Chromium with uPlot (from npm): a training job's curves with
axes, the values under the pointer, drag-zoom and keys; several runs laid over each other on
/jobs/compare; the rounds of the loop side by side. A running job's charts take new points in place; the
charts fit 1280 px and the 390 px narrow layout; the loop's histogram labels are readable; and none of it
breaks the Content-Security-Policy."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app.core.db import session_scope
from app.loop.scoring import distribution
from app.models import Job, utcnow
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_csp import REPORT_VIOLATIONS
from tests.browser.walk import STEPS, add_metrics, loss_at, make_run

SHOTS = os.environ.get("PREFLAB_SHOTS")


@dataclass
class Lab:
    admin: str
    lead: str
    project: int
    runs: list[int]  # finished, finished, running
    other_project_run: int
    import_job: int


@pytest.fixture
def lab(committed: None) -> Lab:
    with session_scope() as s:
        admin = factories.make_user(s, is_admin=True)
        lead = factories.make_user(s)
        project = factories.make_project(s, kind="pairwise", lead=lead, name="Kindness")
        runs = [make_run(s, project, admin, status="succeeded", run=i) for i in range(2)]
        runs.append(make_run(s, project, admin, status="running", run=2, steps=20))
        other = factories.make_project(s, kind="pairwise", name="Elsewhere")
        other_run = make_run(s, other, admin, status="succeeded", run=3)
        imported = factories.make_job(s, project, admin).id
        return Lab(admin.email, lead.email, project.id, runs, other_run, imported)


@dataclass
class Watched:
    page: Page
    violations: list[str]
    errors: list[str]


def _open(browser: Browser, width: int = 1280, height: int = 800) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(30_000)
    watched = Watched(page, [], [])
    page.expose_function("__cspViolation", lambda text: watched.violations.append(f"{page.url}: {text}"))
    context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda exc: watched.errors.append(f"{page.url}: {exc}"))
    return watched


@pytest.fixture
def admin(browser: Browser, live_server: str, lab: Lab) -> Iterator[Watched]:
    watched = _open(browser)
    login_with_keyboard(watched.page, live_server, lab.admin)
    yield watched
    watched.page.context.close()
    # every chart page under the policy: uPlot styles through the CSSOM, which style-src allows
    assert watched.violations == [], "\n".join(watched.violations)
    assert watched.errors == [], "\n".join(watched.errors)


def sticking_out(page: Page) -> list[str]:
    """Elements that reach past the window's right edge (nothing should, at any width)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
          .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                        && !el.closest('.scroll'))
          .map(el => `${el.tagName.toLowerCase()}.${el.className} ${el.getBoundingClientRect().right}`)"""
    )


def chart(page: Page, title: str) -> Any:
    return (
        page.locator("figure.chart")
        .filter(has=page.locator("figcaption", has_text=re.compile(f"^{re.escape(title)}$")))
        .first
    )


def drawn(page: Page, title: str) -> Any:
    """The uPlot chart's state, read from the instance static/charts.js drew in the figure."""
    host = chart(page, title).locator(".chart-plot")
    expect(host.locator("canvas")).to_be_visible()
    return host.evaluate(
        """h => { const u = PreflabCharts.of(h);
          return { xs: u.data[0], series: u.series.slice(1).map(s => s.label), lines: u.data.length - 1,
                   min: u.scales.x.min, max: u.scales.x.max, idx: u.cursor.idx,
                   fonts: u.axes.map(a => a.font[2]), width: u.width,
                   legend: [...h.querySelectorAll('.u-legend .u-series')].map(r => r.querySelector('.u-label')
                     .textContent + ' ' + r.querySelector('.u-value').textContent) }; }"""
    )


def test_a_training_job_draws_its_curves_to_read_values_off(
    admin: Watched, live_server: str, lab: Lab
) -> None:
    page = admin.page
    page.goto(f"{live_server}/jobs/{lab.runs[0]}")
    titles = page.locator("figure.chart figcaption").all_inner_texts()
    # the preferred curves first; bookkeeping (epoch) is not drawn
    assert titles == ["loss", "eval_loss", "rewards/accuracies", "learning_rate"], titles
    loss = drawn(page, "loss")
    assert loss["xs"] == list(range(1, STEPS + 1)) and loss["lines"] == 1
    assert min(loss["fonts"]) >= 12, loss["fonts"]  # tick and axis labels in CSS px
    assert drawn(page, "eval_loss")["xs"] == [5, 10, 15, 20, 25, 30]  # logged every 5 steps, its own axis
    expect(chart(page, "loss").locator(".chart-summary")).to_contain_text(f"{loss_at(STEPS):.4g}")
    expect(chart(page, "loss").locator(".chart-summary")).to_contain_text(f"{STEPS} points")

    # hovering shows the value at the step under the pointer, in every chart of the run (cursors in sync)
    over = chart(page, "loss").locator(".u-over")
    box = over.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hovered = drawn(page, "loss")
    step = hovered["xs"][hovered["idx"]]
    assert 10 <= step <= 21, step
    assert f"step {step}" in hovered["legend"][0] and f"{loss_at(step):.4g}" in hovered["legend"][1]
    assert drawn(page, "learning_rate")["idx"] == hovered["idx"]

    # drag across to zoom in, double-click to zoom out
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 20, steps=5)
    page.mouse.up()
    zoomed = drawn(page, "loss")
    assert 1 < zoomed["min"] < zoomed["max"] < STEPS, zoomed
    over.dblclick()
    reset = drawn(page, "loss")
    assert (reset["min"], reset["max"]) == (1, STEPS)

    # the same from the keyboard: Tab reaches the chart, arrows walk its points, + zooms, 0 zooms out
    page.mouse.move(0, 0)
    plot = chart(page, "loss").locator(".chart-plot")
    for _ in range(60):
        page.keyboard.press("Tab")
        if plot.evaluate("h => h === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the chart")
    assert plot.evaluate("h => getComputedStyle(h).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    walked = drawn(page, "loss")
    assert walked["idx"] == 1 and f"{loss_at(2):.4g}" in walked["legend"][1]
    page.keyboard.press("End")
    assert drawn(page, "loss")["idx"] == STEPS - 1
    page.keyboard.press("+")
    keyed = drawn(page, "loss")
    assert keyed["max"] - keyed["min"] <= (STEPS - 1) / 2 + 0.01, keyed
    page.keyboard.press("0")
    assert (drawn(page, "loss")["min"], drawn(page, "loss")["max"]) == (1, STEPS)
    if SHOTS:
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
        page.screenshot(path=f"{SHOTS}/job-charts.png", full_page=True)


def test_a_running_jobs_charts_take_new_points_in_place(admin: Watched, live_server: str, lab: Lab) -> None:
    page = admin.page
    running = lab.runs[2]
    page.goto(f"{live_server}/jobs/{running}")
    assert drawn(page, "loss")["xs"][-1] == 20
    plot = chart(page, "loss").locator(".chart-plot")
    # mark the chart's canvas and instance: a redraw from nothing would bring new ones (and a flicker)
    plot.evaluate("h => { window.__canvas = h.querySelector('canvas'); PreflabCharts.of(h).__mark = 1; }")
    plot.evaluate(  # and a reader's zoom must survive the poll
        "h => PreflabCharts.of(h).setScale('x', {min: 5, max: 12})"
    )

    with session_scope() as s:
        add_metrics(s, running, range(21, 26), run=2)
    page.wait_for_function(
        "h => PreflabCharts.of(h).data[0].length === 25", arg=plot.element_handle(), timeout=15_000
    )
    same = plot.evaluate(
        "h => [h.querySelector('canvas') === window.__canvas, PreflabCharts.of(h).__mark,"
        " PreflabCharts.of(h).scales.x.min, PreflabCharts.of(h).scales.x.max]"
    )
    assert same == [True, 1, 5, 12]
    expect(chart(page, "loss").locator(".chart-summary")).to_contain_text("25 points")  # the words follow too

    with session_scope() as s:  # the run ends: the last poll brings its final points, polling stops
        add_metrics(s, running, range(26, 29), run=2)
        job = s.get_one(Job, running)
        job.status, job.progress = "succeeded", 1.0
    expect(page.locator(f"#job-{running} .badge")).to_have_text("succeeded", timeout=15_000)
    assert plot.evaluate("h => PreflabCharts.of(h).data[0].length") == 28
    assert plot.evaluate("h => h.querySelector('canvas') === window.__canvas")


def test_runs_are_laid_over_each_other_on_one_chart(admin: Watched, live_server: str, lab: Lab) -> None:
    page = admin.page
    first, second, running = lab.runs
    page.goto(f"{live_server}/jobs/{first}")
    pick = page.locator("form.compare-pick")
    expect(pick.locator("input[type=checkbox]")).to_have_count(2)  # the project's other runs, not another's
    pick.get_by_label(f"#{second} · reward").check()
    pick.get_by_role("button", name="Compare").click()
    page.wait_for_url(f"**/jobs/compare?ids={first}&ids={second}")
    loss = drawn(page, "loss")
    assert loss["lines"] == 2 and loss["series"] == [
        f"#{first} · reward · tiny-reward-0",
        f"#{second} · reward · tiny-reward-1",
    ]
    box = chart(page, "loss").locator(".u-over").bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    hovered = drawn(page, "loss")
    step = hovered["xs"][hovered["idx"]]
    # both runs' values at that step, side by side in the legend
    assert (
        f"{loss_at(step, 0):.4g}" in hovered["legend"][1]
        and f"{loss_at(step, 1):.4g}" in hovered["legend"][2]
    )
    expect(chart(page, "loss").locator(".chart-summary .chart-line")).to_have_count(2)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/jobs-compare.png", full_page=True)

    # a third run through the comma form of the address, and the runs' checkboxes reflect what is drawn
    page.goto(f"{live_server}/jobs/compare?ids={first},{second},{running}")
    assert drawn(page, "loss")["lines"] == 3
    expect(page.locator("form.compare-pick input:checked")).to_have_count(3)

    # what is no training run, or not the caller's to see, is refused
    assert page.request.get(f"{live_server}/jobs/compare?ids={first},{lab.import_job}").status == 422
    assert page.request.get(f"{live_server}/jobs/compare?ids=1x").status == 422


def test_a_lead_compares_only_runs_of_projects_they_lead(
    browser: Browser, live_server: str, lab: Lab
) -> None:
    watched = _open(browser)
    try:
        login_with_keyboard(watched.page, live_server, lab.lead)
        ok = watched.page.request.get(f"{live_server}/jobs/compare?ids={lab.runs[0]},{lab.runs[1]}")
        assert ok.status == 200
        hidden = watched.page.request.get(
            f"{live_server}/jobs/compare?ids={lab.runs[0]},{lab.other_project_run}"
        )
        assert hidden.status == 404
    finally:
        watched.page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_charts_fit_the_wide_and_the_narrow_layout(
    browser: Browser, live_server: str, lab: Lab, width: int
) -> None:
    watched = _open(browser, width=width, height=800)
    page = watched.page
    try:
        login_with_keyboard(page, live_server, lab.admin)
        page.goto(f"{live_server}/jobs/compare?ids={lab.runs[0]},{lab.runs[1]}")
        figures = page.locator("figure.chart")
        expect(figures.first.locator("canvas")).to_be_visible()
        sizes = figures.evaluate_all(
            "fs => fs.map(f => { const h = f.querySelector('.chart-plot'); const u = PreflabCharts.of(h);"
            " return [u.width, h.clientWidth, f.getBoundingClientRect().top]; })"
        )
        for chart_width, room, _ in sizes:
            assert abs(chart_width - room) <= 1 and chart_width >= 250, sizes
        assert sticking_out(page) == []
        tops = [top for _, _, top in sizes]
        if width == 1280:
            assert tops[0] == tops[1], "two charts abreast at 1280 px"
        else:
            assert tops[0] < tops[1], "one under the other in the narrow layout"
        legend = page.locator("figure.chart .u-legend").first
        assert legend.evaluate("l => parseFloat(getComputedStyle(l).fontSize)") >= 12
        # the window narrows: the charts follow their container
        page.set_viewport_size({"width": width // 2 if width > 600 else 330, "height": 800})
        page.wait_for_function(
            "() => [...document.querySelectorAll('.chart-plot')].every(h =>"
            " Math.abs(PreflabCharts.of(h).width - h.clientWidth) <= 1)"
        )
        assert sticking_out(page) == []
        assert watched.violations == [] and watched.errors == [], watched.violations + watched.errors
    finally:
        page.context.close()


def _loop_project() -> tuple[int, str]:
    """A pairwise project with scored tasks (the margin histogram) and two closed rounds and an open one."""
    with session_scope() as s:
        lead = factories.make_user(s)
        project = factories.make_project(s, kind="pairwise", lead=lead)
        scoring = factories.make_job(s, project, lead, kind="scoring")
        scoring.status = "succeeded"
        margins = [(i % 9) * 0.37 for i in range(40)]
        scoring.result = {
            "scored": 40,
            "model": {"id": 1, "name": "rm"},
            "distribution": distribution(margins),
        }
        for i in range(40):
            task = factories.make_task(s, project, f"Question {i}?", [f"A{i}", f"B{i}"])
            a, b = (str(r["id"]) for r in task.responses)
            margin = (i % 9) * 0.37
            result = {"scores": {a: margin, b: 0.0}, "margin": margin, "favourite": a}
            factories.make_suggestion(s, task, kind="score", result=result, job_id=scoring.id)
        now = utcnow()
        for number, (agree, alpha) in enumerate([(0.61, 0.22), (0.74, 0.41)], start=1):
            closed = factories.make_round(s, project, number, closed_at=now)
            closed.metrics = {
                "annotations": 10 * number,
                "tasks_labelled": 5,
                "annotators": 2,
                "tasks_created": 20,
                "percent_agreement": {"value": agree, "low": agree - 0.1, "high": agree + 0.1, "n": 20},
                "alpha": {"value": alpha, "low": alpha - 0.2, "high": alpha + 0.2, "n": 20},
            }
        factories.make_round(s, project, 3, name="Round 3")
        return project.id, lead.email


@pytest.mark.parametrize("width", [1280, 390])
def test_the_loop_tab_reads_at_any_width(
    browser: Browser, live_server: str, committed: None, width: int
) -> None:
    project_id, email = _loop_project()
    watched = _open(browser, width=width, height=800)
    page = watched.page
    try:
        login_with_keyboard(page, live_server, email)
        page.goto(f"{live_server}/projects/{project_id}/loop")
        # the histogram's labels are HTML under the bars: their size does not shrink with the picture
        labels = page.locator(".loop .axis > span")
        expect(labels).to_have_count(3)
        sizes = labels.evaluate_all("els => els.map(el => parseFloat(getComputedStyle(el).fontSize))")
        assert min(sizes) >= 11, sizes
        assert page.locator(".loop svg text").count() == 0  # no label drawn (and scaled) inside the SVG
        bars = page.locator(".loop svg.histogram").bounding_box()
        assert bars and bars["height"] >= 100 and bars["width"] >= 250, bars

        # the rounds side by side on one chart, one tick per round named as the table names it
        rounds = drawn(page, "Agreement by round")
        assert rounds["xs"] == [1, 2, 3] and rounds["series"][:2] == ["percent agreement", "Krippendorff's α"]  # noqa: RUF001
        plot = chart(page, "Agreement by round").locator(".chart-plot")
        plot.focus()
        page.keyboard.press("ArrowRight")
        assert "round Round 1" in drawn(page, "Agreement by round")["legend"][0]
        assert "0.61" in drawn(page, "Agreement by round")["legend"][1]
        page.keyboard.press("ArrowRight")
        assert "0.41" in drawn(page, "Agreement by round")["legend"][2]
        assert sticking_out(page) == []
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/loop-{width}.png", full_page=True)
            page.locator(".card", has=page.locator("svg.histogram")).screenshot(
                path=f"{SHOTS}/loop-{width}-scores.png"
            )
            page.locator("#rounds").screenshot(path=f"{SHOTS}/loop-{width}-rounds.png")
        assert watched.violations == [] and watched.errors == [], watched.violations + watched.errors
    finally:
        page.context.close()
