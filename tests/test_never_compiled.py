"""setup.py's MYPYC_EXCLUDE and scenarios.flavour's NEVER_COMPILED name the same modules.

CI refuses a build that is not wholly compiled; a module left out of mypyc in setup.py but
not listed for the flavour check made a correct build read as "mixed" and failed CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

from scenarios.flavour import NEVER_COMPILED

ROOT = Path(__file__).resolve().parents[1]


def _mypyc_exclude() -> tuple[str, ...]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.target.id == "MYPYC_EXCLUDE"):
            value = ast.literal_eval(node.value) if node.value is not None else ()
            assert isinstance(value, tuple)
            return tuple(str(v) for v in value)
    raise AssertionError("setup.py has no MYPYC_EXCLUDE")


def test_every_module_setup_leaves_interpreted_is_known_to_the_flavour_check() -> None:
    paths = [p for p in _mypyc_exclude() if "/" in p]  # "__init__.py" is every package's
    assert paths, "MYPYC_EXCLUDE lists no module path"
    modules = {p.removesuffix(".py").replace("/", ".") for p in paths}
    assert modules == set(NEVER_COMPILED)
