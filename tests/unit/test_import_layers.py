"""The package's imports flow one way, and no module cycle hides anywhere.

    tasks -> deploy -> report -> {build, aws, project, local} -> model -> config -> util -> errors

Every import counts: at the top, inside a function, under ``TYPE_CHECKING``. An import
inside a function that goes upward or closes a cycle is the same coupling, only hidden.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layer_tasks"

# Lower ranks are imported by higher ones, never the other way round. Packages of one
# rank never import each other (build and aws above all).
RANKS = {
    "errors": 0,
    "": 0,  # layer_tasks/__init__.py: the version only
    "util": 1,
    "config": 2,
    "model": 3,
    "build": 4,
    "aws": 4,
    "project": 4,
    "local": 4,
    "report": 5,
    "deploy": 6,
    "tasks": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``layer_tasks`` module this file imports, wherever the import stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("layer_tasks"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("layer_tasks"):
                continue
            for alias in node.names:
                # `from layer_tasks.aws import s3` imports the module layer_tasks.aws.s3
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES} - {name}


FILES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(f) for f in FILES}
GRAPH = {module_name(f): imports_of(f) for f in FILES}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_rank() -> None:
    assert {layer_of(m) for m in MODULES} <= set(RANKS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_downward(module: str) -> None:
    mine = layer_of(module)
    wrong = [
        target
        for target in sorted(GRAPH[module])
        if layer_of(target) != mine and RANKS[layer_of(target)] >= RANKS[mine]
    ]
    assert wrong == [], f"{module} imports upward or sideways: {wrong}"


def test_build_and_aws_never_import_each_other() -> None:
    crossing = [
        (module, target)
        for module, targets in GRAPH.items()
        for target in targets
        if {layer_of(module), layer_of(target)} == {"build", "aws"}
    ]
    assert crossing == []


def test_no_import_cycle() -> None:
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    # The rule is only as good as its reading: a hidden import must be found.
    source = PACKAGE / "build" / "pipeline.py"
    assert "layer_tasks.build.pylock" in GRAPH[module_name(source)]
    hidden = "def f():\n    from layer_tasks.deploy.plan import make_plan\n"
    tree = ast.parse(hidden)
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert found == ["layer_tasks.deploy.plan"]
