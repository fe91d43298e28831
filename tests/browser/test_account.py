"""A user changes their password on /account: a wrong current password is refused in place; the new one
logs in, the old one no longer does, and a session signed in elsewhere is signed out."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.core.db import session_scope
from app.models import AuditEvent
from tests import factories
from tests.browser.conftest import login_with_keyboard

NEW_PASSWORD = "a brand new passphrase"


def _log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _change(page: Page, current: str, new: str, again: str) -> None:
    form = page.locator("#password form")
    form.get_by_label("Current password").fill(current)
    form.get_by_label("New password", exact=True).fill(new)
    form.get_by_label("New password again").fill(again)
    form.get_by_role("button", name="Change password").click()


def test_change_the_password_then_log_in_with_the_new_one(
    page: Page, browser: Browser, live_server: str
) -> None:
    with session_scope() as session:
        user = factories.make_user(session)
        email, user_id = user.email, user.id
    elsewhere = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login_with_keyboard(elsewhere, live_server, email)

    login_with_keyboard(page, live_server, email)
    page.goto(f"{live_server}/account")
    _change(page, "not my password", NEW_PASSWORD, NEW_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("the current password is wrong")
    _change(page, factories.PASSWORD, NEW_PASSWORD, "a different passphrase")
    expect(page.get_by_role("alert")).to_contain_text("the two new passwords differ")

    _change(page, factories.PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    expect(page.locator("#password [role=status]")).to_contain_text("Your password was changed")
    page.goto(f"{live_server}/")  # this session stays signed in
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    elsewhere.goto(f"{live_server}/account")  # the other one is signed out
    expect(elsewhere).to_have_url(f"{live_server}/login?next=/account")
    elsewhere.context.close()

    page.get_by_role("button", name="Log out").click()
    _log_in(page, live_server, email, factories.PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    _log_in(page, live_server, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    with session_scope() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user_id)).all()
        assert actions.count("user.password_change") == 1
