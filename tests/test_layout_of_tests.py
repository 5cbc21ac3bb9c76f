"""The tests' own layout: helpers shared by several modules live in tests/support/, fixtures in
conftest.py, and no module under tests/ imports a test module or conftest (a test module that
others import runs its tests twice over and ties unrelated files together)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(tree: ast.Module) -> set[str]:
    """Every module an import names, `from tests import test_x` counted as `tests.test_x`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts[1:])


def test_no_module_under_tests_imports_a_test_module_or_conftest() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in sorted(filter(is_test_module, imported_modules(tree))):
            offenders.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert not offenders, "move what is shared to tests/support/:\n" + "\n".join(offenders)


def test_the_check_sees_each_form_of_import() -> None:
    source = "import tests.test_a\nfrom tests.test_b import x\nfrom tests import test_c, support\n"
    names = set(filter(is_test_module, imported_modules(ast.parse(source))))
    assert {"tests.test_a", "tests.test_b", "tests.test_c"} <= names
    assert not any(name.startswith("tests.support") for name in names)
    assert not is_test_module("tests.support.web") and is_test_module("tests.conftest")
