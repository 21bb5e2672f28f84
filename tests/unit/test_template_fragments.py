"""A page's block rendered on its own (the HTMX fragment) has the macros its template
imports at the top level, which Jinja2 binds only when the whole page renders."""

from __future__ import annotations

from pathlib import Path

import jinja2

from ecampus.web.assets import StaticAssets
from ecampus.web.templating import Templates

ROOT = Path(__file__).resolve().parents[2]


def templates() -> Templates:
    return Templates(ROOT / "templates", StaticAssets(ROOT / "static"))


def test_every_template_with_imports_gives_them_to_its_blocks() -> None:
    made = templates()
    env = made.env
    checked = 0
    for path in sorted((ROOT / "templates").rglob("*.html")):
        name = path.relative_to(ROOT / "templates").as_posix()
        template = env.get_template(name)
        imports = made._imports_of(name, template)
        source = path.read_text(encoding="utf-8")
        for node in env.parse(source).find_all(jinja2.nodes.FromImport):
            for entry in node.names:
                alias = entry[1] if isinstance(entry, tuple) else entry
                assert callable(imports[alias]), (name, alias)
                checked += 1
        # Read once per loaded template.
        assert made._imports_of(name, template) is imports
    assert checked >= 20  # the macros of ui.html, countries.html, attempts.html...


def test_a_fragment_renders_a_macro_imported_at_the_top(tmp_path: Path) -> None:
    (tmp_path / "macros").mkdir()
    (tmp_path / "macros" / "m.html").write_text(
        "{% macro hello(who) %}Hola, {{ who }}{% endmacro %}", encoding="utf-8"
    )
    (tmp_path / "base.html").write_text(
        "<title>{% block title %}{% endblock %}</title>{% block main %}{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "page.html").write_text(
        '{% extends "base.html" %}{% from "macros/m.html" import hello %}'
        '{% import "macros/m.html" as m %}'
        "{% block title %}T{% endblock %}"
        '{% block main %}<main>{{ hello(name) }} · {{ m.hello("x") }}</main>{% endblock %}',
        encoding="utf-8",
    )
    made = Templates(tmp_path, StaticAssets(ROOT / "static"))
    template = made.env.get_template("page.html")
    context = {"name": "Ana"}
    fragment = made._imports_of("page.html", template) | context
    html = "".join(template.blocks["main"](template.new_context(fragment)))
    assert html == "<main>Hola, Ana · Hola, x</main>"
