"""Accounts in Chromium (issue 16): an admin creates an invite link on the Users page, a new browser
context accepts it and lands signed in, and the admin deactivates that user, whose session ends at once.
Under the strict Content-Security-Policy, with zero violations and zero script errors."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import AuditEvent, User
from tests import factories
from tests.browser.conftest import login_with_keyboard
from tests.browser.test_csp import SHOTS, _watch

PASSWORD = "the invitee's passphrase"


def test_invite_accept_then_deactivate(browser: Browser, live_server: str, committed: None) -> None:
    with session_scope() as s:
        admin_email = factories.make_user(s, is_admin=True).email
    admin = _watch(browser)
    login_with_keyboard(admin.page, live_server, admin_email)
    admin.visit(f"{live_server}/admin/users")
    invites = admin.page.locator("#invites")
    invites.get_by_role("button", name="Create invite link").click()
    link = invites.locator("#invite-link")
    expect(link).to_contain_text("/invite/")
    url = link.inner_text().strip().replace("http://127.0.0.1:8000", live_server)
    expect(invites.locator("table.invites tbody tr")).to_have_count(1)
    if SHOTS:
        admin.page.screenshot(path=f"{SHOTS}/users-admin-invite-created.png", full_page=True)

    invitee = _watch(browser)
    invitee.visit(url, shot=None)
    expect(invitee.page.get_by_role("heading", name="Join Preflab")).to_be_visible()
    if SHOTS:
        invitee.page.screenshot(path=f"{SHOTS}/invite-page.png", full_page=True)
    invitee.page.get_by_label("E-mail").fill("invitee@example.com")
    invitee.page.get_by_label("Name").fill("Ines Invitee")
    invitee.page.get_by_label("Password", exact=True).fill(PASSWORD)
    invitee.page.get_by_label("Password again").fill(PASSWORD)
    invitee.page.get_by_role("button", name="Create my account").click()
    expect(invitee.page).to_have_url(f"{live_server}/")
    expect(invitee.page.get_by_role("button", name="Log out")).to_be_visible()
    expect(invitee.page.locator(".topbar")).to_contain_text("invitee@example.com")

    invitee.visit(url)  # the link worked once
    expect(invitee.page.get_by_role("heading", name="This link does not work any more")).to_be_visible()

    admin.visit(f"{live_server}/admin/users")
    expect(admin.page.locator("#invites")).to_contain_text("No pending invites")
    admin.page.once("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
    admin.page.get_by_role("button", name="Deactivate invitee@example.com").click()
    expect(admin.page.locator("#users [role=status]")).to_contain_text("invitee@example.com deactivated")
    expect(admin.page.get_by_role("button", name="Reactivate invitee@example.com")).to_be_visible()
    if SHOTS:
        admin.page.screenshot(path=f"{SHOTS}/users-admin.png", full_page=True)

    invitee.page.goto(f"{live_server}/account")  # their session ended at once
    expect(invitee.page).to_have_url(f"{live_server}/login?next=/account")

    assert admin.violations == [] and invitee.violations == []
    gone = [e for e in invitee.errors if "status of 410" in e]  # the spent link's page, answered 410
    assert admin.errors == [] and invitee.errors == gone and len(gone) == 1
    with session_scope() as s:
        user = s.scalars(select(User).where(User.email == "invitee@example.com")).one()
        assert not user.is_active
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"invite.create", "invite.accept", "user.deactivate"} <= actions
    admin.page.context.close()
    invitee.page.context.close()
