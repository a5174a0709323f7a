"""How many lines of save and load code are still written by hand (model plumbing, no kernel
counterpart; ``python -m kernelmodel.state.gen --count``; docs/ARCHITECTURE.md, "State: declared
once")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ("machine", "kernelmodel")
#: The checked readers the generator copies into the generated modules: counted as written.
HELPERS = "kernelmodel/state/gen_helpers.py"


def _is_state_code(node: ast.FunctionDef) -> bool:
    name = node.name
    if name in ("to_state", "from_state", "load_state", "vl_check_state"):
        return True
    if name.endswith(("_to_state", "_from_state", "_load_state")):
        return True
    if name.startswith(("vl_save_", "vl_load_")):
        return True
    args = node.args.args
    return bool(args) and args[0].arg == "state" and name != "__init__"


def count_lines(root: Path = ROOT) -> dict[str, int]:
    """Hand-written save/load lines per file of machine/ and kernelmodel/ (generated files
    left out): every function or method named to_state, from_state, load_state,
    vl_check_state, ``*_to_state``, ``*_from_state``, ``*_load_state``, ``vl_save_*`` or
    ``vl_load_*``, every other function whose first parameter is ``state`` (the typed
    getters), and the helpers of ``HELPERS``, from its ``def`` line to its last line."""
    out: dict[str, int] = {}
    for package in ROOTS:
        for path in sorted((root / package).rglob("*.py")):
            src = path.read_text()
            if "GENERATED" in src[:200]:
                continue
            rel = path.relative_to(root).as_posix()
            n = sum((f.end_lineno or f.lineno) - f.lineno + 1 for f in ast.walk(ast.parse(src))
                    if isinstance(f, ast.FunctionDef) and (_is_state_code(f) or (
                        rel == HELPERS and f.name.startswith("_"))))
            if n:
                out[str(path.relative_to(root))] = n
    return out
