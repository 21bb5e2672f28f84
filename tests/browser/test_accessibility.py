"""Every kind of page, in Spanish and in English: axe-core's WCAG 2.0/2.1/2.2 A and AA rules, one
interface language, no sideways scrolling on a phone; a screenshot of each for people to look at.

axe-core comes from the axe-playwright-python package (its bundled axe.min.js), injected into
the page and run with only the WCAG A/AA rules; any violation fails the test with its rule,
impact, the elements it found and the rule's help. Spanish pages are checked at 360 px (a
phone: the course menu below the lesson) and English ones at 1280 px, so that both layouts
and both languages pass; each page is opened once for all the checks, to keep the suite fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import ContextFactory, LiveServer, People
from tests.browser.page_types import PAGE_TYPES, open_page_type
from tests.browser.test_languages import foreign_interface_text

pytestmark = pytest.mark.browser

# WCAG 2.2 AA: 2.0 and 2.1 A/AA plus 2.2's AA rules (target size, 2.5.8).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_JS = Path(axe_playwright_python.__file__).parent / "axe.min.js"
CASES = [(kind, "es", 360) for kind in PAGE_TYPES] + [(kind, "en", 1280) for kind in PAGE_TYPES]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the violations, reduced to what a person reads."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the page's Content-Security-Policy rightly
        # refuses inline scripts, and the test must not weaken it to inject axe.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(' ')),
                summary: v.nodes.map((n) => n.failureSummary),
            }));
        }""",
        WCAG_TAGS,
    )
    return list(found)


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for target, summary in zip(v["targets"], v["summary"], strict=True):
            lines.append(f"    {target}: {' '.join(str(summary).split())}")
    return "\n".join(lines)


def axe_problems(page: Page, what: str) -> list[str]:
    violations = axe_violations(page)
    if not violations:
        return []
    return [
        f"axe-core found {len(violations)} WCAG 2.2 A/AA violation(s) on {what} ({page.url}):\n"
        f"{describe(violations)}\n{json.dumps(violations)[:2000]}"
    ]


def assert_no_violations(page: Page, what: str) -> None:
    problems = axe_problems(page, what)
    assert not problems, problems[0]


@pytest.mark.parametrize(("kind", "language", "width"), CASES)
def test_page_type_is_accessible_and_speaks_one_language(
    kind: str,
    language: str,
    width: int,
    browser_context: ContextFactory,
    live_server: LiveServer,
    people: People,
    screenshot: Callable[[Page, str], Path],
) -> None:
    script_errors: list[str] = []
    page = open_page_type(
        kind,
        browser_context,
        live_server,
        people,
        language=language,
        width=width,
        errors=script_errors,
    )
    what = f"the {kind} page in {language} at {width} px"
    assert page.evaluate("document.documentElement.lang") == language
    problems = axe_problems(page, what)
    leaks = foreign_interface_text(page)
    if leaks:
        other = "English" if language == "es" else "Spanish"
        problems.append(f"{what} shows {other} interface text: {leaks}")
    if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        problems.append(f"{what} scrolls sideways")
    if kind in ("lesson", "quiz", "quiz-results") and not page.evaluate(
        """() => { const text = document.querySelector('main article.lesson');
            const menu = document.querySelector('main nav.outline');
            return !!text && !!menu
                && !!(text.compareDocumentPosition(menu) & Node.DOCUMENT_POSITION_FOLLOWING); }"""
    ):
        problems.append(f"{what}: the lesson must come before the course menu in the page")
    if script_errors:
        problems.append(f"{what}: script errors {script_errors}")
    if live_server.database == "sqlite":  # the same pictures on PostgreSQL: once is enough
        screenshot(page, f"{kind}-{language}")
    assert not problems, "\n\n".join(problems)
