"""The product wheel carries the product alone; imports flow one way, with no circles."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which of bridge's top-level modules and packages each one may import: data flows one way
# (docs/architecture.md). Every module of bridge/ must be listed, so a new one is placed on
# purpose; the order below is bottom to top.
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),
    "errors": set(),
    "models": set(),
    "vtimezone": set(),
    "zone_names": {"errors"},
    "config": {"models", "errors", "zone_names"},
    "logs": {"config"},
    "trackops": {"models", "errors", "zone_names", "__init__"},
    "changes": {"models"},
    "store": {"models", "errors", "changes"},
    "feeds": {"models", "vtimezone", "zone_names"},
    "entries": {"models", "errors", "zone_names"},
    "sync": {"models", "errors", "changes", "store", "trackops"},
    "sending": {"models", "errors", "store", "trackops"},
    "submissions": {"models", "errors", "config", "store", "trackops", "entries"},
    "feed_engine": {"models", "errors", "config", "store", "feeds"},
    "delivery": {"models", "errors", "config", "store", "feeds"},
    "worker": {"models", "errors", "store", "sync", "sending", "delivery", "feed_engine"},
    "assembly": {
        *("config", "store", "trackops", "sync", "sending", "feed_engine", "delivery", "worker"),
    },
    "web": {
        *("models", "errors", "zone_names", "config", "logs", "store", "entries"),
        *("submissions", "feeds", "feed_engine", "delivery"),
    },
    "demo": {"errors", "config", "logs", "store", "assembly", "web"},
    "cli": {
        *("__init__", "models", "errors", "zone_names", "config", "logs", "store", "trackops"),
        *("entries",),
        *("sync", "sending", "submissions", "feed_engine", "delivery", "worker"),
        *("assembly", "web", "demo"),
    },
    "__main__": {"cli"},
}


def _module_names() -> dict[str, Path]:
    names = {}
    for path in (ROOT / "bridge").rglob("*.py"):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names[dotted.removesuffix(".__init__")] = path
    return names


MODULES = _module_names()


def _imported(path: Path, top: str) -> Iterator[str]:
    """Every module named `top...` that `path` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == top:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    yield full if full in MODULES else node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == top)


def _layer(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_of_bridge_has_a_layer():
    assert {_layer(name) for name in MODULES} == set(ALLOWED)


def test_no_layer_imports_one_above_it():
    upward = [
        f"{path.relative_to(ROOT)} imports {target}"
        for name, path in MODULES.items()
        for target in _imported(path, "bridge")
        if _layer(target) != _layer(name) and _layer(target) not in ALLOWED[_layer(name)]
    ]
    assert not upward


def test_the_allowed_layers_and_the_modules_form_no_circle():
    TopologicalSorter(ALLOWED).static_order()  # a CycleError names the circle
    graph = {
        name: {target for target in _imported(path, "bridge") if target != name}
        for name, path in MODULES.items()
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"modules import each other in a circle: {' -> '.join(error.args[1])}")


def test_the_sandbox_imports_nothing_of_the_product():
    offending = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "trackops_sandbox").rglob("*.py")
        if any(_imported(path, "bridge"))
    ]
    assert not offending


def test_only_the_demo_reaches_for_the_sandbox():
    reaching = {name for name, path in MODULES.items() if any(_imported(path, "trackops_sandbox"))}
    assert reaching == {"bridge.demo"}


def test_the_wheel_carries_the_product_and_its_pages_but_no_simulator(tmp_path: Path):
    # Built from a copy: setuptools reuses a checkout's build/ folder, old modules and all.
    source = tmp_path / "source"
    for name in ("bridge", "trackops_sandbox"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path, source],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("trackops_bridge-*.whl")
    files = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in files if not name.startswith("trackops_bridge-")}
    assert tops == {"bridge"}
    assert "bridge/web/templates/base.html" in files
    assert "bridge/web/templates/submit/event_form.html" in files
    shipped_modules = {
        ".".join(Path(name).with_suffix("").parts).removesuffix(".__init__")
        for name in files
        if name.endswith(".py")
    }
    assert shipped_modules == set(MODULES)
