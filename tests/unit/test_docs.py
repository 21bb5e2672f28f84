"""Docs that cannot go stale: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from ecampus.cli import build_parser

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
