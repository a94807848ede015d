"""The benchmarks import one way: common <- contenders <- benchmarks, with no cycle.

Every ``import`` in ``benchmarks/`` counts, at module level or inside a function (a
deferred import is still a dependency), and so does ``from benchmarks import x``. The
graph is built with :mod:`ast` from the source files, so nothing is imported to test it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent

#: The layers, lowest first. A module may import modules of its own layer or below.
LAYERS: tuple[frozenset[str], ...] = (
    # common: data and tasks, metrics, rendering, measurement
    frozenset({"febrl", "tasks", "metrics", "render", "measure"}),
    # contenders: the peers and cselink's runner
    frozenset({"peers", "cselink_runner"}),
    # benchmarks: what runs the contenders and writes results
    frozenset({"quality", "speed", "screenshot", "contacts_quality", "scale_pairs"}),
)


def _module_names() -> set[str]:
    return {p.stem for p in _ROOT.glob("*.py")
            if p.stem != "__init__" and not p.stem.startswith("bench_")}


def _imports(source: str, modules: set[str]) -> set[str]:
    """The ``benchmarks`` modules a source file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "benchmarks":
                found |= {alias.name for alias in node.names if alias.name in modules}
            elif node.module.startswith("benchmarks."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("benchmarks."):
                    found.add(alias.name.split(".")[1])
    return found & modules


def import_graph(root: Path = _ROOT) -> dict[str, set[str]]:
    """Module -> the benchmarks modules it imports (test files left out)."""
    modules = _module_names()
    return {name: _imports((root / f"{name}.py").read_text(encoding="utf-8"), modules) - {name}
            for name in sorted(modules)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_benchmarks_have_no_import_cycle() -> None:
    graph = import_graph()
    assert {"quality", "speed", "peers", "tasks", "metrics"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_every_module_has_a_layer_and_imports_only_downwards() -> None:
    graph = import_graph()
    layer = {name: i for i, members in enumerate(LAYERS) for name in members}
    assert set(graph) == set(layer), "a benchmarks module without a layer in LAYERS"
    upward = [(name, dep) for name, deps in graph.items() for dep in deps
              if layer[dep] > layer[name]]
    assert upward == []


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set(), "c": {"c"}}, ["c", "c"]),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
    ],
)
def test_find_cycle_finds_cycles_and_only_cycles(graph, cycle) -> None:
    assert find_cycle(graph) == cycle


def test_deferred_and_package_imports_count() -> None:
    source = ("from benchmarks import peers\n"
              "def f():\n    from benchmarks.quality import x\n    import benchmarks.speed\n")
    assert _imports(source, {"peers", "quality", "speed", "tasks"}) == {
        "peers", "quality", "speed"}
