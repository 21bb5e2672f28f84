"""The shape of the code, checked from the source with `ast` (function-level imports too):

- domain packages never import ecampus.web;
- page route modules never import API route modules (what both need lives in a domain
  package, or in a shared web module such as ecampus.web.filters);
- no two top-level ecampus packages import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import ecampus

ROOT = Path(ecampus.__file__).parent
WEB = "ecampus.web"
ROUTES = "ecampus.web.routes"
# Packages that hold no web code; any other package added beside them counts too (below).
NOT_DOMAIN = {"web", "migrations", "locale"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in sorted(ROOT.rglob("*.py"))
        if "migrations" not in p.relative_to(ROOT).parts[:1]
    }


def imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every ecampus module `path` imports, at any depth of the file, with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # `from ecampus.web import routes` names a module
                yield f"{target}.{alias.name}", node.lineno


def ecampus_imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    for target, line in imports(name, path):
        if target == "ecampus" or target.startswith("ecampus."):
            yield target, line


def top_package(module: str) -> str | None:
    """`ecampus.learning.service` -> `learning`; None for modules directly under ecampus
    that are not packages (cli.py, app.py, settings.py...)."""
    parts = module.split(".")
    if len(parts) < 2 or not (ROOT / parts[1]).is_dir():
        return None
    return parts[1]


def domain_packages() -> list[str]:
    return sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in NOT_DOMAIN
    )


def is_within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def test_the_domain_packages_are_found() -> None:
    found = set(domain_packages())
    expected = {
        "accounts",
        "courses",
        "learning",
        "quizzes",
        "certificates",
        "reports",
        "progression",
    }
    assert expected <= found, expected - found


def test_domain_packages_never_import_the_web_layer() -> None:
    domain = domain_packages()
    offences = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
        for name, path in modules().items()
        if top_package(name) in domain
        for target, line in ecampus_imports(name, path)
        if is_within(target, WEB)
    ]
    assert offences == []


def page_route_modules() -> dict[str, Path]:
    return {
        name: path
        for name, path in modules().items()
        if is_within(name, ROUTES)
        and name != ROUTES
        and not name.rpartition(".")[2].startswith("api_")
    }


def test_page_routes_never_import_api_route_modules() -> None:
    pages = page_route_modules()
    assert f"{ROUTES}.html_learning" in pages
    assert f"{ROUTES}.authoring" in pages
    offences = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
        for name, path in pages.items()
        for target, line in ecampus_imports(name, path)
        if is_within(target, ROUTES) and target.split(".")[3].startswith("api_")
    ]
    assert offences == []


def package_graph() -> dict[str, dict[str, str]]:
    """package -> {package it imports: where (the first such import)}."""
    graph: dict[str, dict[str, str]] = {}
    for name, path in modules().items():
        source = top_package(name)
        if source is None:
            continue
        edges = graph.setdefault(source, {})
        for target, line in ecampus_imports(name, path):
            other = top_package(target)
            if other is not None and other != source and other not in edges:
                edges[other] = f"{path.relative_to(ROOT.parent)}:{line}"
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_two_packages_import_each_other() -> None:
    graph = package_graph()
    found = cycles(graph)
    described = [
        " -> ".join(group)
        + ": "
        + "; ".join(
            f"{a} imports {b} at {graph[a][b]}"
            for a in group
            for b in group
            if b in graph.get(a, {})
        )
        for group in found
    ]
    assert described == []


def test_one_way_dependencies_are_allowed() -> None:
    # quizzes and certificates build on learning; progression sits above all three.
    graph = package_graph()
    assert "learning" in graph["quizzes"]
    assert "learning" in graph["certificates"]
    assert {"learning", "quizzes", "certificates"} <= set(graph["progression"])


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": ""}, "b": {}}, []),
        ({"a": {"b": ""}, "b": {"a": ""}}, [["a", "b"]]),
        ({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_loops(
    graph: dict[str, dict[str, str]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected


def test_function_level_and_relative_imports_are_read(tmp_path: Path) -> None:
    package = tmp_path / "ecampus" / "learning"
    package.mkdir(parents=True)
    source = package / "thing.py"
    source.write_text(
        "def f():\n    from ecampus.web import deps\n    from ..quizzes import service\n",
        encoding="utf-8",
    )
    found = {t for t, _ in imports("ecampus.learning.thing", source)}
    assert {"ecampus.web", "ecampus.web.deps", "ecampus.quizzes.service"} <= found


def test_only_the_tokens_module_imports_jose() -> None:
    # Access tokens and credentials (VC-JWTs, status lists) are signed in one place, so a
    # change of JOSE library, or of pinned algorithms, touches one file.
    offences = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
        for name, path in modules().items()
        if name != "ecampus.accounts.tokens"
        for target, line in imports(name, path)
        if is_within(target, "jose")
    ]
    assert offences == []
