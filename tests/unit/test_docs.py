"""Docs that cannot go stale: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from ecampus.app import create_app
from ecampus.cli import build_parser
from tests.conftest import FIXTURE_COURSES, make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme() -> None:
    settings_source = (ROOT / "src" / "ecampus" / "settings.py").read_text(encoding="utf-8")
    variables = set(re.findall(r'"(ECAMPUS_[A-Z_]+)"', settings_source))
    assert len(variables) >= 8
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operating = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    assert [v for v in sorted(variables) if f"`{v}`" not in readme] == []
    assert [v for v in sorted(variables) if v not in operating] == []


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        names = [f"{name} {child}" for child in nested[0].choices] if nested else [name]
        for full in names:
            assert f"ecampus {full}" in readme, full


def test_every_make_target_has_help() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z][a-z-]+):", makefile, flags=re.MULTILINE)
    undocumented = [
        t for t in targets if not re.search(rf"^{t}:.*## ", makefile, flags=re.MULTILINE)
    ]
    assert undocumented == []


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# benchmarks.md also names the routes of bench/'s bare comparison app.
PAGE_DOCUMENTS = [d for d in DOCUMENTS if d.name != "benchmarks.md"]
# A path in backticks, alone or after its HTTP method: `/verify/<code>`, `GET /healthz`.
DOCUMENTED_PATH = re.compile(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`\s]*)`")
# An address in an example: curl "$B/api/v1/courses", http://127.0.0.1:8000/verify/...
EXAMPLE_URL = re.compile(r"""(?:\$B|https?://(?:127\.0\.0\.1|localhost)(?::\d+)?)(/[^\s"'\\)`]*)""")
# Files on the server, not pages of the app.
SERVER_FOLDERS = ("/etc/", "/srv/", "/usr/", "/var/", "/opt/", "/home/")
# The API's root names every route under it.
API_ROOT = "/api/v1"


def documented_paths() -> list[tuple[str, str, str]]:
    """(document, method or "", path) for every path the docs name in backticks or examples."""
    found = []
    for document in PAGE_DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for method, path in DOCUMENTED_PATH.findall(text):
            if not path.startswith(SERVER_FOLDERS):
                found.append((document.name, method, path))
        found += [(document.name, "", path) for path in EXAMPLE_URL.findall(text)]
    return found


def concrete(path: str) -> str:
    """/verify/<code>?x=1 -> /verify/x: placeholders become a sample segment."""
    path = path.split("?")[0]
    path = re.sub(r"<[^>]+>|\{[^}]+\}", "x", path)
    return re.sub(r"(?<=/)\.\.\.$", "x/y", path)


def route_match(app: FastAPI, method: str, path: str) -> Match:
    """How the app's routes take a request (FULL; PARTIAL: the path, not the method)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    matches = [route.matches(scope)[0] for route in app.router.routes]
    return max(matches, key=lambda match: match.value, default=Match.NONE)


def undocumentable(app: FastAPI, mentions: list[tuple[str, str, str]]) -> list[str]:
    """The mentions no route of the app answers: a page, an endpoint or its method."""
    api_paths = list(app.openapi()["paths"])
    missing = []
    for document, method, path in mentions:
        target = concrete(path)
        if target.endswith(("/", "/*")) or target == API_ROOT:  # a prefix: endpoints under it
            prefix = target.rstrip("*")
            prefix = prefix if prefix.endswith("/") else prefix + "/"
            if not any(p.startswith(prefix) for p in api_paths):
                missing.append(f"{document}: `{path}` (no endpoint under it)")
            continue
        match = route_match(app, method or "GET", target)
        if match is Match.NONE:
            missing.append(f"{document}: `{path}`")
        elif match is Match.PARTIAL and method:
            missing.append(f"{document}: `{method} {path}` (that path takes no {method})")
    return missing


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    database = tmp_path_factory.mktemp("docs") / "docs.db"
    return create_app(make_settings(f"sqlite:///{database}", FIXTURE_COURSES))


def test_every_documented_page_and_endpoint_exists(app: FastAPI) -> None:
    mentions = documented_paths()
    assert len(mentions) >= 30, "the docs name pages and endpoints in backticks"
    assert undocumentable(app, mentions) == []


def test_a_page_or_method_the_app_lacks_is_caught(app: FastAPI) -> None:
    mentions = [
        ("x.md", "", "/verify/<code>"),
        ("x.md", "GET", "/courses/{course}/media/..."),
        ("x.md", "", "/coordinator?cohort=DIP-2026"),
        ("x.md", "", "/coordinator/cohort"),
        ("x.md", "POST", "/healthz"),
        ("x.md", "", "/api/v2/"),
    ]
    assert undocumentable(app, mentions) == [
        "x.md: `/coordinator/cohort`",
        "x.md: `POST /healthz` (that path takes no POST)",
        "x.md: `/api/v2/` (no endpoint under it)",
    ]


def settings_read() -> set[str]:
    """The ECAMPUS_ variables Settings reads, and those the test suite reads."""
    settings_source = (ROOT / "src" / "ecampus" / "settings.py").read_text(encoding="utf-8")
    conftest = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    return set(re.findall(r'"(ECAMPUS_[A-Z0-9_]+)"', settings_source)) | set(
        re.findall(r'"(ECAMPUS_TEST_[A-Z0-9_]+)"', conftest)
    )


def unknown_settings(documents: dict[str, str], read: set[str]) -> list[str]:
    """Each `document: ECAMPUS_X` whose variable nothing reads."""
    return sorted(
        f"{document}: {name}"
        for document, text in documents.items()
        for name in set(re.findall(r"\bECAMPUS_[A-Z0-9]+(?:_[A-Z0-9]+)*", text))
        if name not in read
    )


def test_every_documented_setting_exists() -> None:
    """An ECAMPUS_ variable in the docs is read by Settings (or, for the tests, by conftest)."""
    documents = {d.name: d.read_text(encoding="utf-8") for d in DOCUMENTS}
    read = settings_read()
    assert len(read) >= 10
    assert unknown_settings(documents, read) == []


def test_a_setting_nothing_reads_is_caught() -> None:
    text = (
        "Set `ECAMPUS_DATABASE_URL`, and ECAMPUS_NO_SUCH_SETTING=1. (`ECAMPUS_` alone is a prefix.)"
    )
    assert unknown_settings({"x.md": text}, settings_read()) == ["x.md: ECAMPUS_NO_SUCH_SETTING"]
