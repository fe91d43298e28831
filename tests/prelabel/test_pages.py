"""Pre-label pages: the lead's page and job page, the reviewer's queue, the annotate page's suggestion."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Annotation, Job, Role
from tests import factories
from tests.conftest import sign_in

LABELS = {"labels": ["Billing", "Delivery", "Account"]}
HTMX = {"HX-Request": "true"}


def test_a_lead_configures_the_endpoint_previews_a_template_and_starts_a_job(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="classification", lead=lead, settings=LABELS)
    factories.make_task(db, project, "my card was billed twice", [])
    csrf = sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/prelabel")
    assert page.status_code == 200 and "Run a pre-label job" in page.text and "built-in default" in page.text
    form = {
        "csrf_token": csrf,
        "base_url": "http://127.0.0.1:8001/v1",
        "model": "stub",
        "credential": "",
        "concurrency": "4",
        "price_in_per_1k": "0.5",
        "redact_emails": "on",
    }
    saved = client.post(f"/projects/{project.id}/prelabel/settings", data=form)
    assert saved.status_code == 303
    db.refresh(project)
    assert (
        project.llm["concurrency"] == 4
        and project.llm["redact_emails"] is True
        and project.llm["credential"] == ""
    )
    bad = client.post(f"/projects/{project.id}/prelabel/settings", data={**form, "base_url": "ftp://x"})
    assert bad.status_code == 422 and "http:// or https://" in bad.text
    preview = client.post(
        f"/projects/{project.id}/prelabel/templates/label",
        data={"csrf_token": csrf, "system": "", "body": "Pick: {{ labels|join(' | ') }}", "preview": "1"},
    )
    assert preview.status_code == 200 and "Pick: Billing | Delivery | Account" in preview.text
    started = client.post(
        f"/projects/{project.id}/prelabel",
        data={"csrf_token": csrf, "mode": "label", "status": "open", "only_missing": "on", "use_cache": "on"},
    )
    assert started.status_code == 303
    job_url = started.headers["location"]
    job = db.get_one(Job, int(job_url.rsplit("/", 1)[1]))
    assert job.kind == "prelabel" and job.params["request"]["use_cache"] is True
    shown = client.get(job_url)
    assert shown.status_code == 200 and "What was sent where" in shown.text and "127.0.0.1" in shown.text
    assert "e-mail addresses" in shown.text
    cancelled = client.post(f"{job_url}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303 and db.get_one(Job, job.id).status == "cancelled"


def test_a_preview_leaves_the_job_form_and_the_endpoint_form_as_they_were(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="classification", lead=lead, settings=LABELS)
    factories.make_task(db, project, "my card was billed twice", [])
    csrf = sign_in(client, lead.id)
    url = f"/projects/{project.id}/prelabel/templates/label"
    body = {"csrf_token": csrf, "system": "", "body": "Pick: {{ labels|join(' | ') }}", "preview": "1"}
    page = client.post(url, data=body)  # without htmx: the whole page, the job form with its defaults
    assert page.status_code == 200 and "Pick: Billing | Delivery | Account" in page.text
    assert '<input type="checkbox" name="only_missing" checked>' in page.text
    assert '<input type="checkbox" name="use_cache" checked>' in page.text
    assert 'name="mode" value="label" checked' in page.text
    block = client.post(url, data=body, headers=HTMX)  # with htmx: only the templates, for the one swapped
    assert block.status_code == 200 and 'id="templates"' in block.text and 'id="start"' not in block.text
    broken = client.post(url, data={**body, "body": "Pick: {{ labels"}, headers=HTMX)
    assert broken.status_code == 422 and 'role="alert"' in broken.text and "Pick: {{ labels" in broken.text
    bad_endpoint = client.post(
        f"/projects/{project.id}/prelabel/settings",
        data={
            "csrf_token": csrf,
            "base_url": "ftp://x",
            "model": "m",
            "max_tokens": "77",
            "redact_emails": "on",
        },
    )
    assert bad_endpoint.status_code == 422 and 'value="ftp://x"' in bad_endpoint.text
    assert 'name="redact_emails" checked' in bad_endpoint.text
    # the job form's own "stop before using tokens" does not take the endpoint's max_tokens
    assert 'name="max_tokens" min="1" value="" placeholder="no limit"' in bad_endpoint.text


def test_a_reviewer_accepts_a_pre_label_on_the_review_page(client: TestClient, db: Session) -> None:
    project = factories.make_project(db, kind="classification", settings=LABELS)
    first = factories.make_task(db, project, "billing again", [])
    second = factories.make_task(db, project, "parcel late", [])
    s1 = factories.make_suggestion(db, first, "label", {"labels": ["Billing"], "confidence": 0.9})
    factories.make_suggestion(db, second, "label", {"labels": ["Account"], "confidence": 0.3})
    reviewer = factories.make_user(db)
    factories.add_member(db, project, reviewer, Role.reviewer)
    csrf = sign_in(client, reviewer.id)
    page = client.get(f"/projects/{project.id}/prelabel/review")
    assert (
        page.status_code == 200
        and "Accept <kbd>a</kbd>" in page.text
        and f'data-suggestion="{s1.id}"' in page.text
    )
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    answer = client.post(
        f"/projects/{project.id}/prelabel/review",
        data={**fields, "csrf_token": csrf, "action": "accept", "lead_time_ms": "1500"},
        headers=HTMX,
    )
    assert (
        answer.status_code == 200 and "Accepted." in answer.text and f'data-task="{second.id}"' in answer.text
    )
    stored = db.scalar(select(Annotation).where(Annotation.task_id == first.id))
    assert stored is not None and (stored.origin, stored.suggestion_id, stored.lead_time_ms) == (
        "suggestion_accepted",
        s1.id,
        1500,
    )
    metrics = client.get(f"/projects/{project.id}/prelabel/metrics", headers=HTMX)
    assert 'data-figure="acceptance">100%' in metrics.text


def test_the_annotate_page_shows_the_suggestion_only_when_the_project_does(
    client: TestClient, db: Session
) -> None:
    project = factories.make_project(db, kind="pairwise")
    task = factories.make_task(db, project, "Which?", ["one", "two"])
    gold = factories.make_task(db, project, "Gold?", ["three", "four"], gold={"choice": "a"})
    for t in (task, gold):
        factories.make_suggestion(
            db,
            t,
            "judge",
            {"choice": "b", "rationale": "**two** is right", "orders_agree": True, "confidence": 0.8},
        )
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    factories.make_lease(db, task, annotator)  # shown in the order b, a: b is "Response A"
    lease = db.scalars(select(factories.Assignment).where(factories.Assignment.task_id == task.id)).one()
    lease.order = ["b", "a"]
    db.flush()
    sign_in(client, annotator.id)
    block = client.get(f"/projects/{project.id}/annotate/suggestion/{task.id}")
    assert block.status_code == 200 and "Prefers <strong>Response A</strong>" in block.text
    assert "<strong>two</strong> is right" in block.text
    assert "Suggestion" not in client.get(f"/projects/{project.id}/annotate/suggestion/{gold.id}").text
    assert "suggestion-slot" in client.get(f"/projects/{project.id}/annotate").text
    project.settings = {**project.settings, "show_suggestions": False}
    db.flush()
    assert "Suggestion" not in client.get(f"/projects/{project.id}/annotate/suggestion/{task.id}").text
    page = client.get(f"/projects/{project.id}/annotate")
    assert "suggestion-slot" not in page.text
