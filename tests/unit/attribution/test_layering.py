"""The attribution core takes plain trajectories (layer 3): no module of it imports the agents, runs, reasoners,
telemetry or evaluation layers, not even inside a function; TAMO does not import evaluation either."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[3] / "engine"


def imported_modules(package: Path) -> dict[str, set[str]]:
    """Every module a package's files import, anywhere in the file, by file."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found[path.name] = {name for node in ast.walk(tree) for name in _names(node)}
    return found


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module]
    return []


@pytest.mark.parametrize(("package", "above"), [
    ("attribution", ("engine.agents", "engine.runs", "engine.reasoners", "engine.telemetry", "engine.evaluation")),
    ("tamo", ("engine.agents", "engine.runs", "engine.evaluation")),
])
def test_a_domain_engine_imports_no_layer_above_it(package, above):
    upward = {file: sorted(m for m in modules if m.startswith(above))
              for file, modules in imported_modules(ENGINE / package).items()}
    assert {file: modules for file, modules in upward.items() if modules} == {}
