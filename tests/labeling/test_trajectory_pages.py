"""A trajectory project's pages: the steps to label on the annotate page, a reviewer's table of the
answers step by step and their correction, and the dashboard's agreement step by step."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Project, Review, Role, Task
from tests import factories
from tests.conftest import sign_in

PROMPT: list[dict[str, Any]] = [
    {"role": "user", "content": "Book the cheapest flight to Oslo."},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "f1", "type": "function", "function": {"name": "flights", "arguments": '{"to": "OSL"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "f1", "name": "flights", "content": '[{"id": 7, "eur": 90}]'},
]
REPLY = "Booked flight 7 for 90 EUR."


def _project(db: Session) -> tuple[Project, Task, dict[str, Any]]:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="trajectory", lead=lead)
    task = factories.make_task(db, project, PROMPT, [{"id": "a", "text": REPLY}])
    people = {"lead": lead, "a1": factories.make_user(db), "a2": factories.make_user(db)}
    for who in ("a1", "a2"):
        factories.add_member(db, project, people[who], Role.annotator)
    return project, task, people


def test_the_annotate_page_lists_each_step_with_its_labels(client: TestClient, db: Session) -> None:
    project, task, people = _project(db)
    sign_in(client, people["a1"].id)
    page = client.get(f"/projects/{project.id}/annotate")
    assert page.status_code == 200, page.text
    steps = re.findall(r'<li class="step turn assistant" data-step="(\d+)"', page.text)
    assert steps == ["1", "3"]  # the tool call, then the closing reply
    assert (
        page.text.count('data-label="bad" data-bad="1"') == 2
        and 'data-label="neutral" data-bad="0"' in page.text
    )
    assert "flights" in page.text and "&#34;id&#34;: 7" in page.text  # the call and its result, in the step
    assert REPLY in page.text and 'class="trajectory-comment"' in page.text
    assert (
        "/static/kinds/trajectory.js" in page.text
        and "Mark the current step as the first wrong one" in page.text
    )
    assert f'data-task="{task.id}"' in page.text


def test_a_reviewer_sees_the_answers_step_by_step_and_corrects_one(client: TestClient, db: Session) -> None:
    project, task, people = _project(db)
    reviewer = factories.make_user(db)
    factories.add_member(db, project, reviewer, Role.reviewer)
    first = factories.make_annotation(
        db,
        task,
        people["a1"],
        {"steps": {"1": "good", "3": "bad"}, "first_wrong": 3, "comment": "wrong fare"},
    )
    factories.make_annotation(
        db, task, people["a2"], {"steps": {"1": "good", "3": "good"}, "first_wrong": None}
    )
    csrf = sign_in(client, reviewer.id)
    page = client.get(f"/projects/{project.id}/review/{task.id}")
    assert page.status_code == 200, page.text
    assert "Labels by step" in page.text and page.text.count('<tr class="split">') == 1
    assert "1 good · 2 bad ✗first wrong — “wrong fare”" in page.text
    assert 'name="step__3"' in page.text and 'name="answer_comment"' in page.text
    form = {"csrf_token": csrf, "uuid": first.uuid, "verdict": "correct", "step__1": "bad", "step__3": "bad"}
    corrected = client.post(
        f"/projects/{project.id}/review",
        data={
            **form,
            "first_wrong": "1",
            "answer_comment": "the search was wrong",
            "comment": "reviewer's note",
        },
        headers={"HX-Request": "true"},
    )
    assert corrected.status_code == 200, corrected.text
    review = db.scalars(select(Review).where(Review.annotation_id == first.id)).one()
    assert review.result == {
        "steps": {"1": "bad", "3": "bad"},
        "first_wrong": 1,
        "comment": "the search was wrong",
    }
    refused = client.post(
        f"/projects/{project.id}/review", data={**form, "first_wrong": "3"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422 and "step 1 before it is already labelled" in refused.text


def test_the_dashboard_breaks_agreement_down_by_step(client: TestClient, db: Session) -> None:
    project, task, people = _project(db)
    factories.make_annotation(db, task, people["a1"], {"steps": {"1": "good", "3": "bad"}, "first_wrong": 3})
    factories.make_annotation(
        db, task, people["a2"], {"steps": {"1": "good", "3": "good"}, "first_wrong": None}
    )
    sign_in(client, people["lead"].id)
    dash = client.get(f"/projects/{project.id}/dashboard")
    assert dash.status_code == 200, dash.text
    parts = re.findall(r'<tr><th scope="row">([^<]+)</th>', dash.text)
    assert parts == ["first wrong step", "step 1", "step 2"]
    stats = client.get(f"/api/v1/projects/{project.id}/stats")
    assert stats.status_code == 200, stats.text
    figures = {p["part"]: p["percent"]["value"] for p in stats.json()["agreement"]["parts"]}
    assert figures == {"first wrong step": 0.0, "step 1": 1.0, "step 2": 0.0}
