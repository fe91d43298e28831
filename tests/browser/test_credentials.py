"""An administrator keeps credentials on /admin/credentials (issue 18, finding 6): a host list that would
bind nothing is refused in place with what was typed kept, a good one is added, changed and deleted, and a
project's endpoint form offers it by name."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.core.db import session_scope
from app.models import Project
from tests import factories
from tests.browser.conftest import login_with_keyboard


def _post(page: Page, path: str) -> object:
    return page.expect_response(lambda r: r.url.endswith(path) and r.request.method == "POST")


def test_an_admin_binds_a_key_to_hosts_and_a_project_chooses_it(page: Page, live_server: str) -> None:
    with session_scope() as session:
        admin = factories.make_user(session, is_admin=True)
        project = factories.make_project(session, lead=admin)
        project.llm = {"base_url": "http://127.0.0.1:8001/v1", "model": "stub", "credential": ""}
        email, project_id = admin.email, project.id

    login_with_keyboard(page, live_server, email)
    page.get_by_role("link", name="Credentials").click()
    expect(page.get_by_role("heading", name="Credentials")).to_be_visible()
    expect(page.locator("#credential-default")).to_contain_text("instance default")

    form = page.locator("#credentials form[action='/admin/credentials']")
    form.get_by_label("Name", exact=True).fill("lab")
    form.get_by_label("Variable").fill("LAB_API_KEY")
    form.get_by_label("Hosts it may be sent to").fill("0.0.0.0/0")
    with _post(page, "/admin/credentials") as answer:  # type: ignore[attr-defined]
        form.get_by_label("Hosts it may be sent to").press("Enter")
    assert answer.value.status == 422
    expect(page.locator("#credentials [role=alert]")).to_contain_text("covers every address")
    form = page.locator("#credentials form[action='/admin/credentials']")
    expect(form.get_by_label("Name", exact=True)).to_have_value("lab")
    expect(form.get_by_label("Variable")).to_have_value("LAB_API_KEY")

    form.get_by_label("Hosts it may be sent to").fill("127.0.0.1, *.corp.example")
    with _post(page, "/admin/credentials") as answer:  # type: ignore[attr-defined]
        form.get_by_role("button", name="Add").click()
    assert answer.value.status == 200
    expect(page.locator("#credentials [role=status]")).to_have_text("Added lab.")
    row = page.locator("#credential-lab")
    expect(row).to_contain_text("127.0.0.1, *.corp.example")
    expect(row).to_contain_text("not set for the web process")

    row.get_by_text("Change").click()
    row.get_by_label("Hosts").fill("127.0.0.1, vllm.corp.example")
    with _post(page, "") as answer:  # type: ignore[attr-defined]
        row.get_by_role("button", name="Save lab").click()
    assert answer.value.status == 200
    expect(page.locator("#credentials [role=status]")).to_have_text("Saved lab.")
    expect(page.locator("#credential-lab")).to_contain_text("127.0.0.1, vllm.corp.example")

    page.goto(f"{live_server}/projects/{project_id}/prelabel")
    choice = page.locator("#endpoint select[name=credential]")
    expect(choice.locator("option[value=lab]")).to_have_text("lab: for 127.0.0.1, vllm.corp.example")
    expect(choice.locator("option[value=default]")).to_contain_text("(not 127.0.0.1)")
    choice.select_option("lab")
    page.locator("#endpoint").get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    with session_scope() as session:
        assert session.get_one(Project, project_id).llm["credential"] == "lab"

    page.goto(f"{live_server}/admin/credentials")
    with _post(page, "/delete") as answer:  # type: ignore[attr-defined]
        page.locator("#credential-lab").get_by_role("button", name="Delete lab").click()
    assert answer.value.status == 200
    expect(page.locator("#credentials [role=status]")).to_contain_text("Deleted lab")
    expect(page.locator("#credential-lab")).to_have_count(0)
