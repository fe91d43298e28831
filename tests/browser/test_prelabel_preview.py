"""A lead previews a prompt template on the pre-label page: the preview (or the template's error) shows
beside the template, and the job form keeps what the lead chose, so the next job still skips tasks that
have a suggestion and answers from the cache."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.core.db import session_scope
from tests import factories
from tests.browser.conftest import login_with_keyboard


def test_previewing_a_template_keeps_the_job_forms_choices(page: Page, live_server: str) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(
            session, kind="classification", lead=lead, settings={"labels": ["Billing", "Delivery"]}
        )
        factories.make_task(session, project, "my card was billed twice", [])
        project_id, email = project.id, lead.email

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/projects/{project_id}/prelabel")
    start = page.locator("#start form")
    only_missing, use_cache = (
        start.locator("input[name=only_missing]"),
        start.locator("input[name=use_cache]"),
    )
    expect(only_missing).to_be_checked()
    expect(use_cache).to_be_checked()
    start.locator("input[name=limit]").fill("7")

    template = page.locator("#template-label")
    template.locator("textarea[name=body]").fill("Pick: {{ labels|join(' | ') }}")
    template.get_by_role("button", name="Preview with a sample task").click()
    expect(page.locator("#template-label .preview")).to_contain_text("Pick: Billing | Delivery")
    expect(only_missing).to_be_checked()
    expect(use_cache).to_be_checked()
    expect(start.locator("input[name=limit]")).to_have_value("7")

    use_cache.uncheck()  # the lead's own choice survives a preview too
    template = page.locator("#template-label")
    template.locator("textarea[name=body]").fill("Pick: {{ labels|join(' | ')")
    with page.expect_response(lambda r: "/prelabel/templates/label" in r.url) as answer:
        template.get_by_role("button", name="Preview with a sample task").click()
    assert answer.value.status == 422
    expect(page.locator("#template-label [role=alert]")).to_be_visible()
    expect(page.locator("#template-label textarea[name=body]")).to_have_value("Pick: {{ labels|join(' | ')")
    expect(only_missing).to_be_checked()
    expect(use_cache).not_to_be_checked()
