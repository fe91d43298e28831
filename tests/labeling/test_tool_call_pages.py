"""Every page that shows a conversation shows an agent's tool calls readably: the function's name and its
arguments as indented JSON, results folded when long, reasoning set apart, the task's tool schemas on
demand; arguments that are not JSON are shown as the text they are, and nothing in them runs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests import factories
from tests.conftest import sign_in

LONG_RESULT = '{"rows": [' + ", ".join(f'{{"id": {i}, "name": "hotel {i}"}}' for i in range(60)) + "]}"
PROMPT = [
    {"role": "user", "content": "Book me a hotel in Porto."},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "First find hotels, then book one.",
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "search_hotels", "arguments": '{"city": "Porto", "max": 3}'}}],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "search_hotels", "content": LONG_RESULT},
    {
        "role": "assistant",
        "content": "Booking.",
        "tool_calls": [{"id": "c2", "type": "function",
                        "function": {"name": "book", "arguments": '{"hotel": <script>alert(1)</script>'}}],
    },
    {"role": "tool", "tool_call_id": "c2", "content": "booked"},
]  # fmt: skip
TOOLS = [{"type": "function", "function": {"name": "search_hotels", "parameters": {"type": "object"}}},
         {"type": "function", "function": {"name": "book", "parameters": {"type": "object"}}}]  # fmt: skip


def _check(html: str) -> None:
    assert '<code class="fn">search_hotels</code>' in html and '<code class="fn">book</code>' in html
    pretty = "{\n  &#34;city&#34;: &#34;Porto&#34;,\n  &#34;max&#34;: 3\n}"
    assert f'<pre class="args" tabindex="0">{pretty}</pre>' in html
    assert "arguments are not valid JSON" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    # the long result is folded, the short one open
    folded = re.search(r'<details class="tool-result"( open)?><summary>result of <code>search_hotels', html)
    assert folded is not None and folded.group(1) is None
    assert re.search(r'<details class="tool-result" open><summary>result <span class="muted">· c2', html)
    assert '<details class="reasoning" open><summary>reasoning</summary>' in html
    assert "First find hotels, then book one." in html
    assert re.search(r"2 tools available: <code>search_hotels</code>, <code>book</code>", html)


@pytest.mark.parametrize("kind", ["pairwise", "sft"])
def test_the_annotate_page_shows_calls_results_reasoning_and_schemas(
    client: TestClient, db: Session, kind: str
) -> None:
    user = factories.make_user(db)
    sign_in(client, user.id)
    project = factories.make_project(db, kind=kind)
    factories.add_member(db, project, user, Role.annotator)
    factories.make_task(db, project, PROMPT, ["Booked the Ribeira Inn.", "Done."], tools=TOOLS)
    page = client.get(f"/projects/{project.id}/annotate")
    assert page.status_code == 200
    _check(page.text)


def test_the_task_and_review_pages_show_them_too(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    annotator = factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    task = factories.make_task(db, project, PROMPT, ["Booked the Ribeira Inn.", "Done."], tools=TOOLS)
    factories.make_annotation(db, task, annotator, {"choice": "a"})
    sign_in(client, lead.id)
    for url in (f"/projects/{project.id}/tasks/{task.id}", f"/projects/{project.id}/review/{task.id}"):
        page = client.get(url)
        assert page.status_code == 200, url
        _check(page.text)
