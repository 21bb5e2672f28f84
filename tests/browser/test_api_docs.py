"""/docs in a real Chromium: Swagger UI from the site's own files runs under the site's
Content-Security-Policy (no violation, no request to another origin) and can call the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Request, expect

from tests.browser.conftest import ContextFactory, LiveServer

pytestmark = pytest.mark.browser


def test_swagger_ui_runs_under_the_sites_policy(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    page = browser_context(locale="en-US").new_page()
    console: list[str] = []
    elsewhere: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(f"{message.type}: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith((live_server.base_url, "data:")):
            elsewhere.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on("request", on_request)
    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    operation = page.locator(".opblock-summary", has_text="/api/v1/courses").first
    expect(operation).to_be_visible()
    operation.click()
    page.get_by_role("button", name="Try it out").first.click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/courses")) as called:
        page.get_by_role("button", name="Execute").first.click()
    assert called.value.status == 200
    expect(
        page.locator(".live-responses-table tr.response .response-col_status").first
    ).to_contain_text("200")
    assert [m for m in console if "Content Security Policy" in m or "pageerror" in m] == []
    assert elsewhere == []
