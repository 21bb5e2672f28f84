"""Docs that cannot go stale: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

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
# A path in backticks, alone or after its HTTP method: `/verify/<code>`, `GET /healthz`.
DOCUMENTED_PATH = re.compile(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`\s]*)`")
# Files on the server, not pages of the app.
SERVER_FOLDERS = ("/etc/", "/srv/", "/usr/", "/var/", "/opt/", "/home/")
# The API's root names every route under it.
API_ROOT = "/api/v1"


def documented_paths() -> list[tuple[str, str, str]]:
    """(document, method or "", path) for every path the docs name in backticks."""
    found = []
    for document in DOCUMENTS:
        for method, path in DOCUMENTED_PATH.findall(document.read_text(encoding="utf-8")):
            if not path.startswith(SERVER_FOLDERS):
                found.append((document.name, method, path))
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


def test_every_documented_page_and_endpoint_exists(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'docs.db'}", FIXTURE_COURSES))
    api_paths = list(app.openapi()["paths"])
    mentions = documented_paths()
    assert len(mentions) >= 30, "the docs name pages and endpoints in backticks"

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
    assert missing == []


def test_every_documented_setting_exists() -> None:
    """An ECAMPUS_ variable in the docs is read by Settings (or, for the tests, by conftest)."""
    settings_source = (ROOT / "src" / "ecampus" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"(ECAMPUS_[A-Z0-9_]+)"', settings_source))
    read |= set(
        re.findall(r'"(ECAMPUS_TEST_[A-Z0-9_]+)"', (ROOT / "tests" / "conftest.py").read_text())
    )
    documented = {
        (document.name, name)
        for document in DOCUMENTS
        for name in re.findall(r"\bECAMPUS_[A-Z0-9]+(?:_[A-Z0-9]+)*", document.read_text("utf-8"))
    }
    assert len(documented) >= 10
    assert sorted(f"{d}: {name}" for d, name in documented if name not in read) == []
