from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Member, Project, Task
from tests import factories
from tests.conftest import login


def test_admin_creates_a_project_through_the_forms(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    csrf = login(client, admin.email)
    r = client.post(
        "/projects/new",
        data={
            "name": "Support triage",
            "kind": "classification",
            "instructions": "Pick **one** label.",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    project = db.scalar(select(Project).where(Project.name == "Support triage"))
    assert project is not None and project.settings["kind"] == "classification"
    r = client.post(
        f"/projects/{project.id}/settings",
        data={
            "name": "Support triage",
            "instructions": "x",
            "overlap": "3",
            "labels": "billing\nbug\nother",
            "multi_label": "on",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303, r.text
    db.refresh(project)
    assert project.settings["labels"] == ["billing", "bug", "other"]
    assert project.settings["overlap"] == 3 and project.settings["multi_label"] is True
    bad = client.post(
        f"/projects/{project.id}/settings",
        data={"name": "x", "overlap": "0", "labels": "a\nb", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "overlap" in bad.text
    page = client.get(f"/projects/{project.id}")
    assert "Support triage" in page.text and "0 of 0 tasks" in page.text


def test_import_page_shows_line_errors_and_imports_nothing(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    csrf = login(client, lead.email)
    lines = [json.dumps({"prompt": f"p{i}", "responses": ["a", "b"]}) for i in range(5)]
    lines[2] = "not json"
    r = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": csrf},
        files={"file": ("t.jsonl", "\n".join(lines).encode())},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422
    assert "<td>3</td>" in r.text and "<html" not in r.text  # only the outcome block, for htmx
    assert db.scalar(select(func.count()).select_from(Task).where(Task.project_id == project.id)) == 0
    lines[2] = json.dumps({"prompt": "fixed", "responses": ["a", "b"]})
    r = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": csrf},
        files={"file": ("t.jsonl", "\n".join(lines).encode())},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 201 and "Imported <strong>5</strong>" in r.text
    assert (
        db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tasks.import"))
        == 1
    )


def test_lead_adds_and_removes_members_with_htmx(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    newcomer = factories.make_user(db)
    csrf = login(client, lead.email)
    r = client.post(
        f"/projects/{project.id}/members",
        data={"user_id": newcomer.id, "role": "reviewer", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and newcomer.email in r.text and 'id="members"' in r.text
    assert db.get(Member, (project.id, newcomer.id)).role == "reviewer"  # type: ignore[union-attr]
    r = client.post(
        f"/projects/{project.id}/members/{newcomer.id}/remove",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert db.get(Member, (project.id, newcomer.id)) is None


def test_instructions_render_markdown_but_never_raw_html(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    project.instructions = "# Guide\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n**bold**"
    db.flush()
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}").text
    assert "<h1>Guide</h1>" in page and "<strong>bold</strong>" in page
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_errors_are_pages_for_browsers_and_toasts_for_htmx(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    project = factories.make_project(db)
    login(client, user.email)
    r = client.get(f"/projects/{project.id}")
    assert r.status_code == 404 and "<html" in r.text and "Not found" in r.text
    r = client.get(f"/projects/{project.id}", headers={"HX-Request": "true"})
    assert r.status_code == 404 and 'class="toast error"' in r.text and "<html" not in r.text
    r = client.get("/projects/new", headers={"HX-Request": "true"})
    assert r.status_code == 403 and "administrators" in r.text


def test_htmx_requests_for_a_logged_out_user_redirect_the_whole_page(client: TestClient) -> None:
    r = client.get("/projects/1", headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Redirect"].startswith("/login?next=")


def test_static_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/login").text
    assert "/static/vendor/htmx.min.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    r = client.get("/static/vendor/htmx.min.js")
    assert r.status_code == 200 and "htmx" in r.text[:2000]


def test_a_large_upload_on_the_page_becomes_a_polling_job(client: TestClient, db: Session) -> None:
    from app.core.config import get_settings
    from app.models import Job

    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    csrf = login(client, lead.email)
    rows = [
        json.dumps({"prompt": "x" * 300 + str(i), "responses": ["a" * 300, "b" * 300]}) for i in range(600)
    ]
    data = "\n".join(rows).encode()
    assert len(data) > get_settings().import_inline_max_bytes
    r = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": csrf},
        files={"file": ("big.jsonl", data)},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 202
    job = db.scalar(select(Job).where(Job.project_id == project.id))
    assert job is not None and job.kind == "import" and job.status == "queued"
    assert f'hx-get="/jobs/{job.id}"' in r.text and 'hx-trigger="every 1s"' in r.text
    page = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and f'id="job-{job.id}"' in page.text and "<html" not in page.text
