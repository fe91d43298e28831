"""Every form shows the error the server renders, in place, and keeps what the user typed: htmx forms
(whose 4xx answers htmx 2 would not swap unless configured) and plain ones."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from app.core.db import session_scope
from app.models import Project, Role
from tests import factories
from tests.browser.conftest import login_with_keyboard


def test_a_bad_import_names_its_line_and_keeps_the_file(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, lead=lead)
        project_id, email = project.id, lead.email
    lines = [json.dumps({"prompt": f"p{i}", "responses": ["a", "b"]}) for i in range(5)]
    lines[2] = "not json"

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/import")
    page.locator("input[name=file]").set_input_files(
        {"name": "tasks.jsonl", "mimeType": "application/jsonl", "buffer": "\n".join(lines).encode()}
    )
    page.locator("input[name=mapping]").fill("prompt:question")
    with page.expect_response(lambda r: r.url.endswith("/import") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Upload").click()
    assert answer.value.status == 422
    alert = page.locator("#outcome [role=alert]")
    expect(alert).to_contain_text("1 bad row(s)")
    expect(alert.locator("table.errors tbody tr td").first).to_have_text("3")
    # the form is still there with the user's choices, ready for a corrected upload
    assert page.locator("input[name=file]").evaluate("el => el.files[0].name") == "tasks.jsonl"
    expect(page.locator("input[name=mapping]")).to_have_value("prompt:question")


def test_adding_a_user_whose_email_exists_shows_why_and_keeps_the_form(page: Page, live_server: str) -> None:
    with session_scope() as session:
        admin = factories.make_user(session, is_admin=True)
        taken = factories.make_user(session, email="ada@example.com")
        admin_email, taken_email = admin.email, taken.email

    login_with_keyboard(page, live_server, admin_email)
    page.goto(f"{live_server}/admin/users")
    form = page.locator("#users form")
    form.locator("input[name=email]").fill(taken_email)
    form.locator("input[name=name]").fill("Ada Lovelace")
    form.locator("input[name=password]").fill("long enough password")
    form.locator("input[name=is_admin]").check()
    with page.expect_response(
        lambda r: r.url.endswith("/admin/users") and r.request.method == "POST"
    ) as answer:
        form.get_by_role("button", name="Add").click()
    assert answer.value.status == 422
    expect(page.locator("#users [role=alert]")).to_contain_text(taken_email)
    form = page.locator("#users form")
    expect(form.locator("input[name=email]")).to_have_value(taken_email)
    expect(form.locator("input[name=name]")).to_have_value("Ada Lovelace")
    expect(form.locator("input[name=is_admin]")).to_be_checked()


def test_an_invalid_review_correction_shows_why_and_keeps_the_typed_ranking(
    page: Page, live_server: str
) -> None:
    with session_scope() as session:
        lead, reviewer, annotator = (factories.make_user(session) for _ in range(3))
        project = factories.make_project(session, kind="ranking", lead=lead)
        factories.add_member(session, project, reviewer, Role.reviewer)
        factories.add_member(session, project, annotator, Role.annotator)
        task = factories.make_task(session, project, "Rank the replies", ["Sure!", "No.", "Maybe."])
        factories.make_annotation(session, task, annotator, {"ranking": ["a", "b", "c"]})
        project_id, task_id, email = project.id, task.id, reviewer.email

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/review/{task_id}")
    page.locator("#review .answer details.correct summary").click()
    page.locator("#review .answer input[name=ranking]").fill("a, zzz")
    page.locator("#review .answer input[name=comment][aria-label='correction comment']").fill("b is rude")
    with page.expect_response(lambda r: r.url.endswith("/review") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save correction").click()
    assert answer.value.status == 422
    expect(page.locator("#review [role=alert]")).to_contain_text("'zzz' names no response")
    # the correction stays open with what the reviewer typed, to fix and save again
    expect(page.locator("#review .answer details.correct")).to_have_attribute("open", "")
    expect(page.locator("#review .answer input[name=ranking]")).to_have_value("a, zzz")
    expect(page.locator("#review .answer input[aria-label='correction comment']")).to_have_value("b is rude")
    expect(page.locator("#review .answer .badge.submitted")).to_be_visible()


def test_a_settings_error_keeps_the_users_edits(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(
            session, kind="classification", lead=lead, settings={"labels": ["x", "y"]}
        )
        project_id, email = project.id, lead.email

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/settings")
    page.locator("input[name=name]").fill("Support triage")
    page.locator("textarea[name=instructions]").fill("Pick **one** label.")
    page.locator("textarea[name=labels]").fill("billing\nbug\nother")
    page.locator("input[name=multi_label]").check()
    page.locator("input[name=overlap]").fill("0")  # out of range
    page.locator("input[name=is_private]").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[role=alert]")).to_contain_text("overlap")
    expect(page.locator("input[name=name]")).to_have_value("Support triage")
    expect(page.locator("textarea[name=instructions]")).to_have_value("Pick **one** label.")
    expect(page.locator("textarea[name=labels]")).to_have_value("billing\nbug\nother")
    expect(page.locator("input[name=multi_label]")).to_be_checked()
    expect(page.locator("input[name=overlap]")).to_have_value("0")
    expect(page.locator("input[name=is_private]")).to_be_checked()
    with session_scope() as session:
        stored = session.get_one(Project, project_id)
        assert stored.name != "Support triage" and stored.settings["labels"] == ["x", "y"]
