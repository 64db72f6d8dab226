"""The import graph of ``pipelines`` and ``infra``: no cycles, and the cloud path free of twins.

Every import counts, at the top of a module or inside a function: a cycle
kept open by an import inside a function still ties the modules together.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "infra")
# The local twins: the cloud path (and what it imports) must reach none of them.
LOCAL_TWINS = ("pipelines.serving.endpoint", "pipelines.serving.endpoint_app",
               "pipelines.serving.rollout", "pipelines.serving.client",
               "pipelines.serving.traffic", "pipelines.data.warehouse",
               "pipelines.data.example_gen", "pipelines.pipeline.local")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a import b`` counts a.b if b is one)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in known and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module ``start`` imports, directly or not, with the module that imports it."""
    seen, todo = {start: ""}, [start]
    while todo:
        node = todo.pop()
        for nxt in graph[node]:
            if nxt not in seen:
                seen[nxt] = node
                todo.append(nxt)
    return seen


def test_the_checker_finds_a_cycle_and_a_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert reachable(graph, "d")["c"] == "b"


def test_no_import_cycles_in_pipelines_and_infra():
    assert cycles(import_graph()) == []


def test_infra_is_imported_by_nothing_but_the_cli():
    graph = import_graph()
    importers = sorted(f"{name} -> {target}" for name, targets in graph.items()
                       for target in targets
                       if target.split(".")[0] == "infra" and name.split(".")[0] != "infra"
                       and not name.startswith("pipelines.cli"))
    assert importers == []


@pytest.mark.parametrize("entry", ["pipelines.cloud.compile", "pipelines.cloud.pusher",
                                   "pipelines.cloud.rollout", "pipelines.runner.backends",
                                   "pipelines.runner.vertex"])
def test_the_cloud_path_imports_no_local_twin(entry):
    graph = import_graph()
    via = reachable(graph, entry)
    if entry == "pipelines.runner.backends":  # the runner holds both backends; check the vertex one
        via = reachable({**graph, entry: {"pipelines.cloud.compile", "pipelines.cloud.target"}},
                        entry)
    twins = {twin: via[twin] for twin in LOCAL_TWINS if twin in via}
    assert twins == {}, f"{entry} reaches local twins (module <- imported by): {twins}"
