"""Imports point down only: machine <- kernelmodel <- scenarios <- tui."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: layer -> packages it must never import
FORBIDDEN = {
    "machine": {"kernelmodel", "scenarios", "tui", "textual", "rich", "msgpack", "tomllib"},
    "kernelmodel": {"scenarios", "tui", "textual", "rich", "msgpack", "tomllib"},
    "scenarios": {"tui", "textual"},
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_upward_imports_in_sources() -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            bad = _imported_top_levels(path) & forbidden
            if bad:
                problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert problems == []


def test_model_import_pulls_in_no_ui_or_serialisation() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "import machine, kernelmodel\n"
        "for pkg in (machine, kernelmodel):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in ('textual', 'rich', 'msgpack', 'tomllib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
