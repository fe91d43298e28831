"""The API docs work air-gapped: every request the page makes goes to the instance itself, and with
every other host unreachable the operations are still listed."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect


def test_api_docs_list_the_operations_from_local_assets_only(page: Page, live_server: str) -> None:
    elsewhere: list[str] = []

    def air_gap(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # as air-gapped: nothing outside the instance answers
            elsewhere.append(route.request.url)
            route.abort()

    page.context.route("**/*", air_gap)
    page.goto(f"{live_server}/api/docs")
    operations = page.locator("#swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    expect(
        page.locator("#swagger-ui .opblock-summary-path", has_text="/api/v1/projects/{pid}/snapshots").first
    ).to_be_visible()
    assert operations.count() > 20
    assert elsewhere == []
