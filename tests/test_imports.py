"""No import cycle inside cselink: the graph of every import statement, read with ``ast``.

Imports inside functions count too: a cycle hidden in a function is still two modules that
cannot be understood (or split) apart. Imports under ``TYPE_CHECKING`` do not: they never
run, and they are how typed modules name each other's types.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cselink

ROOT = Path(cselink.__file__).parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package), for every .py file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and (
                    (isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING")
                    or (isinstance(child.test, ast.Attribute)
                        and child.test.attr == "TYPE_CHECKING")):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its file)."""
    modules = _modules(root)
    top = root.name

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names if a.name.split(".")[0] == top}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if module.split(".")[0] != top:
                    continue
                # ``from pkg import sub`` imports the submodule when there is one.
                targets |= {known(f"{module}.{a.name}") if f"{module}.{a.name}" in modules
                            else known(module) for a in node.names}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cselink_has_no_import_cycle() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_the_report_reads_the_result_type_not_the_job() -> None:
    graph = import_graph(ROOT)
    assert "cselink.check" not in graph["cselink.report"]


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .sub.c import Y\n"
                              "else:\n    from .b import X\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from .. import a\nimport os\n")
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"},
                     "pkg.sub": set(), "pkg.sub.c": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (pkg / "sub" / "c.py").write_text("import os\n")
    assert cycles(import_graph(pkg)) == []


@pytest.mark.parametrize("name", ["CheckOptions", "CheckResult", "STATUSES",
                                  "DEFAULT_KNOWN_THRESHOLD", "DEFAULT_POSSIBLE_THRESHOLD"])
def test_check_still_exports_the_moved_names(name: str) -> None:
    import importlib

    # ``cselink.check`` the attribute is the function (the API); the module is this one.
    job, result = (importlib.import_module(m) for m in ("cselink.check", "cselink.check_result"))
    assert getattr(job, name) is getattr(result, name)
