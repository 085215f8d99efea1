"""Data flows one way: each module imports only from the stages before it."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lifecycle_opt"
ORDER = ["errors", "units", "laws", "fit", "approaches", "hardware", "costs", "finance", "scenario", "problem", "solution", "solver", "batch", "uncertainty", "sweep",
         "reports", "exports", "workbook", "plots", "cli"]


def imports_of(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_from_earlier_stages(module):
    allowed = set(ORDER[:ORDER.index(module)])
    assert imports_of(module) <= allowed, imports_of(module) - allowed


def test_every_module_is_in_the_flow():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


def test_every_module_declares_its_public_surface():
    for module in ORDER:
        assert "__all__" in (PACKAGE / f"{module}.py").read_text(), module
