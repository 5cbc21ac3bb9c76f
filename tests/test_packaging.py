"""The wheel carries every subpackage and the templates; module layering stays one-way."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "bridge").rglob("__init__.py")
    }
    assert found | {"bridge.templates"} == listed
    assert config["package-dir"]["bridge.templates"] == "templates"
    patterns = config["package-data"]["bridge.templates"]
    assert "*.html" in patterns


# Which top-level modules each layer may import (data flows one way, see design.md).
ALLOWED = {
    "models": set(),
    "errors": set(),
    "config": {"models", "errors"},
    "trackops": {"models", "errors"},
    "store": {"models", "errors"},
    "feeds": {"models", "vtimezone"},
    "vtimezone": set(),
    "entries": {"models", "errors"},
    "sync": {"models", "errors", "store", "trackops"},
    "outbox": {"models", "errors", "store", "trackops", "entries"},
    "worker": {"models", "errors", "store", "sync", "outbox", "delivery", "feed_engine"},
    "feed_engine": {"models", "errors", "config", "store", "feeds"},
    "delivery": {"models", "errors", "config", "store", "feeds"},
    "sandbox": set(),
}


def bridge_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bridge"):
            parts = node.module.split(".")
            if len(parts) > 1:
                names.add(parts[1])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bridge."):
                    names.add(alias.name.split(".")[1])
    return names


def test_lower_layers_never_import_higher_ones():
    for layer, allowed in ALLOWED.items():
        target = ROOT / "bridge" / layer
        files = list(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
        for path in filter(Path.exists, files):
            imported = bridge_imports(path) - {layer, "__version__"}
            forbidden = imported - allowed
            assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"
