"""A live chat of three turns in Chromium, against the OpenAI-compatible stub through a real worker: two
models, one slow (its reply arrives after the other's), one failing once (its card shows the error and
asks again); at each turn the annotator picks a reply and rewrites it, and the conversation goes on
from the rewrite. Each turn is a pairwise task with the conversation so far as its prompt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import Annotation, ChatTurn, Task, User
from app.web.llm_stub import StubServer
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_accessibility import AXE
from tests.browser.test_rewrites import _retype, _shot
from tests.chat.conftest import chat_project


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        server.state.stream_ms = 60  # slow enough that the page shows a reply while it streams
        yield server


def test_a_live_chat_of_three_turns_with_a_pick_and_a_rewrite_each(
    page: Page, live_server: str, stub: StubServer, celery_worker: object
) -> None:
    stub.state.models.update({"slow-model": {"latency_ms": 1500}, "flaky-model": {"fail": 1}})
    ids = chat_project(stub, models=["slow-model", "flaky-model"], system_prompt="You are a tour guide.")
    login_with_keyboard(page, live_server, ids["annotator_email"])
    page.goto(f"{live_server}/projects/{ids['project_id']}/chat")
    # autofocus lands after the load event; a key pressed before it would go nowhere
    expect(page.get_by_role("button", name="New conversation")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_be_focused()

    rewrites = []
    for n, text in enumerate(["Where should I start in Porto?", "Where is lunch?", "And at night?"]):
        # the field can take focus before static/chat.js has bound its keys: Ctrl+Enter would send nothing
        expect(page.locator('#message[data-bound="1"]')).to_be_focused()
        page.keyboard.type(text)
        page.keyboard.press("Control+Enter")
        cards = page.locator("#turn .candidate")
        if n == 0:
            # the fast model's reply streams in while the slow one is still waiting; the flaky one fails
            expect(page.locator("#turn .candidate")).to_have_count(2)
            expect(page.locator("#turn .candidate.failed")).to_have_count(1, timeout=30_000)
            expect(page.locator("#turn .candidate.failed .error")).to_contain_text("500")
            _shot(page, "chat-failed-card")
            expect(page.locator('#turn [data-action="retry"]')).to_be_visible(timeout=20_000)
            page.locator('#turn [data-action="retry"]').click()
        else:
            expect(
                cards.filter(has_text="writing…").or_(cards.filter(has_text="waiting")).first
            ).to_be_visible()
        task = page.locator("#turn section.task")
        expect(task).to_be_visible(timeout=30_000)
        page.keyboard.press("2" if n % 2 else "1")
        page.keyboard.press("w")
        page.keyboard.press("e")
        rewrite = f"Rewritten reply {n}: start at the Ribeira."
        _retype(page, rewrite)
        rewrites.append(rewrite)
        if n == 2:
            _shot(page, "chat-judging")
            page.add_script_tag(url="/static/vendor/axe.min.js")
            assert page.evaluate(AXE) == []
        page.keyboard.press("Control+Enter")
        expect(page.locator("#message")).to_be_visible(timeout=10_000)
        expect(page.locator(".chat .turn.assistant").last).to_contain_text(rewrite)
        page.locator("#message").focus()
    _shot(page, "chat-conversation")
    expect(page.locator(".chat .turn.user").first).to_have_text("you" + "Where should I start in Porto?")

    with session_scope() as session:
        turns = session.scalars(select(ChatTurn).order_by(ChatTurn.id)).all()
        assert [t.status for t in turns] == ["picked"] * 3
        assert [t.reply for t in turns] == rewrites
        tasks = session.scalars(
            select(Task).where(Task.project_id == ids["project_id"]).order_by(Task.id)
        ).all()
        assert len(tasks) == 3
        assert tasks[2].prompt[0] == {"role": "system", "content": "You are a tour guide."}
        assert [m["content"] for m in tasks[2].prompt if m["role"] == "assistant"] == rewrites[:2]
        for task, turn, rewrite in zip(tasks, turns, rewrites, strict=True):
            answer = session.scalars(select(Annotation).where(Annotation.task_id == task.id)).one()
            shown_first = turn.order[0]
            assert answer.result["edits"] == {answer.result["choice"]: rewrite}
            assert answer.result["strength"] == 1
            assert answer.result["choice"] in ("c1", "c2") and shown_first in ("c1", "c2")
        assert stub.state.by_model["flaky-model"] == 4  # one failure, then three replies

    # the lead reads every conversation, as a tree of turns with the models named, and continues none
    page.context.clear_cookies()
    with session_scope() as session:
        lead_email = session.get_one(User, ids["lead_id"]).email
    login_with_keyboard(page, live_server, lead_email)
    page.goto(f"{live_server}/projects/{ids['project_id']}/chat")
    page.locator("table a").first.click()
    tree = page.locator("details.chat-tree")
    expect(tree).to_have_attribute("open", "")
    expect(tree.locator("li", has_text="flaky-model").first).to_be_visible()
    expect(tree).to_contain_text("chosen")
    expect(page.locator("#message")).to_have_count(0)
    _shot(page, "chat-lead-tree")
