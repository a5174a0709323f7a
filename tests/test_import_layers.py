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


LAYERS = ("machine", "kernelmodel", "scenarios", "tui")
KERNEL_TREE = {"init", "kernel", "mm", "fs", "lib", "include"}
SCAFFOLDING = {"check", "oracle", "state", "bench", "view"}
#: Imports by name that go up a layer, each with its reason: (file, module) -> why.
KNOWN_UPWARD = {
    ("scenarios/cli/main.py", "tui.app"):
        "bare `vmlab` opens the dashboard when tui/ is installed (the entry point's home)",
    ("scenarios/cli/tui_cmd.py", "tui.app"): "`vmlab tui` starts the dashboard",
    ("scenarios/cli/serve.py", "tui.serve"): "`vmlab serve` starts the dashboard's web server",
}
_BY_NAME = {"import_module", "__import__", "find_spec"}


def _named_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import by name whose argument starts with a literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name not in _BY_NAME:
            continue
        arg = node.args[0]
        if isinstance(arg, ast.JoinedStr) and arg.values:
            arg = arg.values[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.append((node.lineno, arg.value))
    return found


def _allowed(importer: str, module: str) -> bool:
    """May a module of ``importer`` (dotted) import ``module`` under the layer rules?"""
    src, dst = importer.split("."), module.split(".")
    if dst[0] not in LAYERS or src[0] not in LAYERS:
        return True
    if LAYERS.index(dst[0]) > LAYERS.index(src[0]):
        return False
    if src[0] == dst[0] == "kernelmodel" and len(src) > 2 and len(dst) > 1:
        return not (src[1] in KERNEL_TREE and dst[1].rstrip(".") in SCAFFOLDING)
    return True


def test_imports_by_name_follow_the_layers() -> None:
    problems = []
    seen_known = set()
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            importer = rel[: -len(".py")].replace("/", ".")
            for line, module in _named_imports(path):
                if (rel, module) in KNOWN_UPWARD:
                    seen_known.add((rel, module))
                elif not _allowed(importer, module):
                    problems.append(f"{rel}:{line} imports {module!r} by name")
    assert problems == []
    assert seen_known == set(KNOWN_UPWARD), "a listed exception is gone: drop it from the list"


def test_layer_rules_of_imports_by_name() -> None:
    """The rule the scan applies, on the cases it must tell apart."""
    assert _allowed("scenarios.cli.main", "scenarios.cli.run")
    assert not _allowed("scenarios.cli.main", "tui.app")
    assert not _allowed("kernelmodel.mm.vmscan", "scenarios.session")
    assert not _allowed("kernelmodel.fs.fsync", "kernelmodel.oracle.oracle")
    assert _allowed("kernelmodel.state.restore", "kernelmodel.oracle.oracle")
    assert _allowed("tui.app", "scenarios.snapshot")


def test_radix_tree_keeps_its_public_import_path() -> None:
    """Every public name of the tree's modules is on both import paths, the same object."""
    import importlib

    import kernelmodel.lib.radix_tree as lib_tree
    import kernelmodel.radix_tree as public

    parts = ("core", "tags", "gang", "state", "check")
    missing = []
    for part in parts:
        module = importlib.import_module(f"kernelmodel.lib.radix_tree_{part}")
        for n, value in vars(module).items():
            if n.startswith("_") or n in ("annotations", "Final", "TYPE_CHECKING", "final"):
                continue
            if getattr(value, "__module__", module.__name__) != module.__name__:
                continue  # imported from elsewhere (i64, KernelBug, ...)
            if getattr(lib_tree, n, None) is not value or getattr(public, n, None) is not value:
                missing.append(f"{part}.{n}")
    assert missing == []


def test_no_star_imports_in_compiled_packages() -> None:
    """A module compiled with mypyc binds only the names it imports by name: a star import
    leaves the importer's attributes missing on the compiled build alone."""
    import re

    star = re.compile(r"^\s*from\s+\S+\s+import\s+\*", re.M)
    offenders = [str(p.relative_to(ROOT)) for pkg in ("machine", "kernelmodel")
                 for p in sorted((ROOT / pkg).rglob("*.py")) if star.search(p.read_text())]
    assert offenders == []
