"""A lead works the data manager (the Tasks tab) in Chromium, keyboard first: searches the prompts, selects
two tasks and sets their priority, opens a task beside the list and closes it, deletes one after confirming,
and downloads a selection; under the Content-Security-Policy with no violation and no script error."""

from __future__ import annotations

import os

import orjson
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import AuditEvent, Role, Task
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_csp import _watch

# A folder: the grid and an opened task, at 1280 by 800. caret="initial": hiding the caret, Playwright leaves
# style="" on every input, which htmx's settling then copies onto the swapped-in ones: a policy violation that
# is the test's own, not the page's.
SHOTS = os.environ.get("PREFLAB_SHOTS")


def test_a_lead_filters_selects_acts_and_opens_a_task(
    browser: Browser, live_server: str, committed: None
) -> None:
    with session_scope() as s:
        lead, a, b = (factories.make_user(s) for _ in range(3))
        project = factories.make_project(s, kind="pairwise", lead=lead, settings={"overlap": 2})
        for person in (a, b):
            factories.add_member(s, project, person, Role.annotator)
        prompts = ["How long to bake sourdough bread?", "Is rye bread healthier than wheat bread?",
                   "Explain tunnelling to a child", "Bread or rice with curry?", "A haiku"]  # fmt: skip
        tasks = [
            factories.make_task(s, project, p, [f"Answer one to {p}", f"Answer two to {p}"], meta={"n": i})
            for i, p in enumerate(prompts)
        ]
        for person, choice in ((a, "a"), (b, "b")):
            factories.make_annotation(s, tasks[1], person, {"choice": choice, "strength": 1})
        tasks[1].status = "done"
        factories.make_suggestion(s, tasks[3])
        factories.make_flag(s, tasks[0], a, reason="unclear")
        pid, ids, email = project.id, [t.id for t in tasks], lead.email

    watched = _watch(browser)
    page = watched.page
    try:
        login_with_keyboard(page, live_server, email)
        watched.visit(f"{live_server}/projects/{pid}/tasks")
        rows = page.locator("#dm-rows tr[data-task]")
        expect(rows).to_have_count(5)

        page.keyboard.press("/")  # search the prompts
        expect(page.locator("#dm-q")).to_be_focused()
        page.keyboard.type("bread")
        page.keyboard.press("Enter")
        page.wait_for_url("**/tasks?*q=bread*")
        expect(rows).to_have_count(3)
        expect(page.locator("#dm-q")).to_have_value("bread")

        page.keyboard.press("j")  # the first task, selected with x; then the second
        page.keyboard.press("x")
        page.keyboard.press("j")
        page.keyboard.press("x")
        expect(page.locator("#dm-selected")).to_have_text("2")
        # htmx processes swapped-in rows only once they settle: a slow settle (as on a busy box) must not
        # make Enter on a fresh row follow its link away from the list
        page.evaluate("() => { htmx.config.defaultSettleDelay = 3000; }")
        page.locator("#dm-action").select_option("set_priority")
        page.locator("#bulk input[name=priority]").fill("7")
        with page.expect_response(lambda r: r.url.endswith(f"/projects/{pid}/tasks/bulk")) as answer:
            page.locator("#bulk").get_by_role("button", name="Apply").click()
        assert answer.value.status == 200
        expect(page.locator("#grid .notice")).to_contain_text("2 of 2 task(s) changed")
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/data-manager.png", caret="initial")  # see below

        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("Enter")  # open the second task (the answered one) beside the list
        panel = page.locator("#task-panel")
        expect(panel.locator("#task-detail")).to_be_visible()
        expect(panel).to_contain_text(f"Task #{ids[1]}")
        expect(panel).to_contain_text("Annotations (2)")
        expect(panel).to_contain_text("Answer one to Is rye bread")
        expect(panel.locator("#task-detail")).to_be_focused()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/data-manager-task.png", caret="initial")
        page.keyboard.press("Escape")
        expect(panel.locator("#task-detail")).to_have_count(0)

        # delete the selected first task, after saying yes to the question
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        expect(page.locator("#dm-selected")).to_have_text("0")  # the grid came back after the action
        page.locator("#dm-rows input[name=task_ids]").first.check()
        expect(page.locator("#dm-selected")).to_have_text("1")
        page.locator("#dm-action").select_option("delete")
        page.locator("#bulk").get_by_role("button", name="Apply").click()
        expect(page.locator("#grid .notice")).to_contain_text("1 of 1 task(s) changed")
        assert asked and asked[0].startswith("Delete 1 selected task(s)")
        expect(rows).to_have_count(2)

        # the selection as JSON Lines
        page.locator("#dm-rows input[name=task_ids]").first.check()
        with page.expect_download() as download:
            page.get_by_role("button", name="Export JSONL").click()
        lines = [orjson.loads(x) for x in open(download.value.path(), "rb").read().splitlines()]  # noqa: SIM115
        assert [row["id"] for row in lines] == [ids[1]] and len(lines[0]["annotations"]) == 2

        assert watched.violations == [], "\n".join(watched.violations)
        assert watched.errors == [], "\n".join(watched.errors)
    finally:
        page.context.close()

    with session_scope() as s:
        assert s.get(Task, ids[0]) is None
        priorities = {
            tid: p for tid, p in s.execute(select(Task.id, Task.priority).where(Task.project_id == pid))
        }
        assert priorities == {ids[1]: 7, ids[2]: 0, ids[3]: 0, ids[4]: 0}
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.project_id == pid)).all()
        assert {"task.priority", "task.delete", "tasks.bulk", "tasks.export"} <= set(actions)
