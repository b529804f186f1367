"""The package's shape, checked: layers that import only downwards, no import cycles, and a sandbox
that neither pytest nor the grading side can reach into (graders/ARCHITECTURE.md draws the layers).

Read from the source with ast, so an import inside a function counts as much as one at the top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
# Lowest first: a module may import its own package and the layers below it, never above.
LAYERS = (
    {"sandbox"},
    {"instruments", "given"},
    {"harnesses", "report"},
    {"grading"},
    {"suite", "classroom", "loop"},
    {"cli"},
    {"__main__"},
)
# Code that runs inside the sandbox, beside the learner's: no pytest, no grading side.
SANDBOX_SIDE = {"sandbox", "instruments", "harnesses", "given"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _exists(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("graders", "pytest", "_pytest")}


def _exists(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


GRAPH = {
    _module_name(path): _imports(path)
    for path in PACKAGE.rglob("*.py")
    if "tests" not in path.relative_to(PACKAGE).parts
}


def _layer(part: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if part in layer)


def test_every_subpackage_has_a_layer():
    parts = {_part(module) for module in GRAPH if module != "graders"}
    assert parts <= set().union(*LAYERS), parts - set().union(*LAYERS)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "graders"))
def test_a_module_imports_only_its_own_layer_or_below(module):
    upward = sorted(
        target for target in GRAPH[module]
        if target.startswith("graders.") and _part(target) != _part(module) and _layer(_part(target)) >= _layer(_part(module))
    )
    assert not upward, f"{module} imports {upward}: upward or sideways across packages"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _part(m) in SANDBOX_SIDE))
def test_code_that_runs_in_the_sandbox_imports_neither_pytest_nor_the_grading_side(module):
    forbidden = sorted(t for t in GRAPH[module] if t.split(".")[0] in ("pytest", "_pytest") or _part(t) in ("grading", "report", "classroom", "loop", "suite"))
    assert not forbidden, f"{module} imports {forbidden}"


def test_the_import_graph_has_no_cycles():
    edges = {m: {t for t in targets if t in GRAPH and t != m} for m, targets in GRAPH.items()}
    # A package's __init__ importing its own modules is not a cycle through them.
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_the_checks_would_catch_an_upward_import(tmp_path):
    """The rule can fail: a sandbox module importing the grading side is one upward import."""
    fake = tmp_path / "probe.py"
    fake.write_text("from graders.grading import feedback\nimport pytest\n")
    imports = _imports(fake)
    assert "graders.grading.feedback" in imports and "pytest" in imports
    assert _layer(_part("graders.grading.feedback")) > _layer("sandbox")
