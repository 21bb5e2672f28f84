"""Light pages: what a lesson costs over the wire, measured from Chromium's own network events.

The budget (issue 3): the first visit to a lesson page, with an empty cache, at most 60 KB in
all (HTML, CSS, JS, fonts, images); each further lesson, reached with the "next" link that
htmx swaps in, at most 10 KB. Bytes are what the response carried: its headers plus its body
as sent (gzipped), from `request.sizes()`. The numbers go to test-artifacts/page-weight.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import ContextFactory, LiveServer, sign_in
from tests.browser.helpers import COURSE_ID, ROOT, complete_course, course, register_learner

pytestmark = pytest.mark.browser

FIRST_VISIT_BUDGET = 60 * 1024
NAVIGATION_BUDGET = 10 * 1024
REPORT = ROOT / "test-artifacts" / "page-weight.json"


def transferred(
    page: Page, action: Callable[[], Any], settled: Callable[[], Any]
) -> list[dict[str, Any]]:
    """Every response that `action` caused until `settled()` returns, with its bytes."""
    seen: list[Response] = []

    def listen(response: Response) -> None:
        seen.append(response)

    page.on("response", listen)
    try:
        action()
        settled()
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", listen)
    rows = []
    for response in seen:
        sizes = response.request.sizes()
        parts = urlsplit(response.url)
        rows.append(
            {
                "path": parts.path + (f"?{parts.query}" if parts.query else ""),
                "type": response.request.resource_type,
                "status": response.status,
                "encoding": response.headers.get("content-encoding", ""),
                "headers": sizes["responseHeadersSize"],
                "body": sizes["responseBodySize"],
                "bytes": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                "sent": sizes["requestHeadersSize"] + sizes["requestBodySize"],
            }
        )
    return rows


def total(rows: list[dict[str, Any]]) -> int:
    return sum(r["bytes"] for r in rows)


def test_a_lesson_fits_the_page_weight_budget(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    """The first lesson with an empty cache; then every further item through "next"."""
    learner = register_learner(live_server.base_url, prefix="weight", full_name="Liviana Página")
    complete_course(learner)  # every item done: each page offers its "next" link
    content = course()
    context = browser_context()
    sign_in(context, live_server.base_url, learner)
    page = context.new_page()

    first = content.order[0]
    first_rows = transferred(
        page,
        lambda: page.goto(f"/courses/{COURSE_ID}/items/{first}"),
        lambda: expect(page.get_by_role("heading", level=1)).to_have_text(
            content.items[first].title
        ),
    )
    page.wait_for_function("() => typeof window.htmx === 'object'")
    page.evaluate("window.__sameDocument = true")

    navigations = []
    for item_id in content.order[1:]:
        link = page.locator("main .pager a[rel=next]")
        title = content.items[item_id].title

        def swapped(title: str = title, item_id: str = item_id) -> None:
            expect(page).to_have_url(re.compile(rf"/items/{re.escape(item_id)}$"))
            expect(page.get_by_role("heading", level=1)).to_have_text(title)
            page.wait_for_function("() => document.activeElement?.tagName === 'H1'")

        rows = transferred(page, link.click, swapped)
        navigations.append({"item": item_id, "type": content.items[item_id].type,
                            "bytes": total(rows), "requests": rows})  # fmt: skip
    assert page.evaluate("window.__sameDocument === true"), "a 'next' link reloaded the page"

    lesson_navigations = [n for n in navigations if n["type"] == "lesson"]
    report = {
        "budget_bytes": {"first_visit": FIRST_VISIT_BUDGET, "navigation": NAVIGATION_BUDGET},
        "database": live_server.database,
        "first_visit": {"item": first, "bytes": total(first_rows), "requests": first_rows},
        "navigation": {
            "first_lesson_to_next_bytes": navigations[0]["bytes"],
            "max_lesson_bytes": max(n["bytes"] for n in lesson_navigations),
            "max_any_item_bytes": max(n["bytes"] for n in navigations),
            "items": [{k: v for k, v in n.items() if k != "requests"} for n in navigations],
        },
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    if live_server.database == "sqlite" or not REPORT.exists():
        REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\npage weight ({live_server.database}): first visit to {first}: "
        f"{report['first_visit']['bytes']} B in {len(first_rows)} requests "
        + ", ".join(f"{r['path'].split('?')[0]} {r['bytes']} B" for r in first_rows)
        + f"; next lesson: {navigations[0]['bytes']} B; heaviest lesson navigation: "
        f"{report['navigation']['max_lesson_bytes']} B; heaviest item: "
        f"{report['navigation']['max_any_item_bytes']} B -> {REPORT.relative_to(ROOT)}"
    )

    problems = []
    if total(first_rows) > FIRST_VISIT_BUDGET:
        problems.append(f"the first visit costs {total(first_rows)} B > {FIRST_VISIT_BUDGET} B")
    for n in navigations:
        if n["bytes"] > NAVIGATION_BUDGET:
            problems.append(f"going on to {n['item']} costs {n['bytes']} B > {NAVIGATION_BUDGET} B")
        # The browser looks the site's icon up again after each swap; its cache answers (0 B).
        fetched = [r for r in n["requests"] if r["bytes"] > 0]
        if len(fetched) != 1:
            problems.append(f"going on to {n['item']} took {len(fetched)} requests: {fetched}")
    for row in first_rows + [r for n in navigations for r in n["requests"]]:
        if row["type"] == "font":
            problems.append(f"a web font was downloaded: {row['path']}")
        if row["type"] in ("document", "stylesheet", "script", "xhr", "fetch") and (
            row["body"] > 1024 and row["encoding"] != "gzip"
        ):
            problems.append(f"{row['path']} ({row['body']} B) is not compressed")
    assert not problems, "; ".join(problems)
