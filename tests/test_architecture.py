"""The house rules that import-linter's contracts (pyproject.toml) do not express: no cycle
between packages, small modules, a client top level a newcomer can read at a glance."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "photoark"
MAX_MODULE_LINES = 500
MAX_CLIENT_TOP_LEVEL_MODULES = 12


def _package_of(module: str, graph: grimp.ImportGraph) -> str:
    """The package a module belongs to (a package is its own package)."""
    if graph.find_children(module):
        return module
    return module.rpartition(".")[0]


def _package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("photoark")
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        source = _package_of(module, graph)
        for imported in graph.find_modules_directly_imported_by(module):
            target = _package_of(imported, graph)
            # a package importing its own sub-package (its face) is not a cycle
            if target != source and not target.startswith(source + "."):
                edges.setdefault(source, set()).add(target)
    return edges


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_package_cycle() -> None:
    cycle = _find_cycle(_package_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(SRC)}: {lines} lines: split it by job"


def test_client_top_level_is_short() -> None:
    modules = sorted(p.name for p in (SRC / "client").glob("*.py"))
    assert len(modules) <= MAX_CLIENT_TOP_LEVEL_MODULES, modules
    for package in (p for p in (SRC / "client").iterdir() if p.is_dir() and p.name[0] != "_"):
        init = package / "__init__.py"
        assert init.exists() and '"""' in init.read_text(), f"{package.name}/ needs a docstring"
