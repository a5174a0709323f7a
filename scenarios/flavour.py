"""Which flavour of the model is imported: the mypyc-compiled modules or the Python sources.

``vmlab version`` reports it, the test suite asserts it, and ``vmlab bench`` uses the
source-only import hook to run the pure flavour beside the compiled one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

COMPILED_PACKAGES = ("machine", "kernelmodel")


class _SourceOnlyFinder(importlib.abc.MetaPathFinder):
    """Resolve machine/ and kernelmodel/ with a finder that knows only ``.py`` files."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in COMPILED_PACKAGES:
            return None
        for entry in path if path is not None else sys.path:
            finder = importlib.machinery.FileFinder(
                entry or ".",
                (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
            )
            spec = finder.find_spec(fullname, target)
            # a directory without __init__.py (tests/kernelmodel/ when tests/ is on sys.path)
            # is only a namespace portion: keep looking for the real package, as import does
            if spec is not None and spec.loader is not None:
                return spec
        return None


def install_source_only_finder() -> None:
    """Make every later import of machine/ and kernelmodel/ load the Python sources."""
    if not any(isinstance(f, _SourceOnlyFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceOnlyFinder())


#: Modules of the compiled packages that setup.py leaves interpreted on purpose: the source
#: generator of the declared state and the two modules only it imports run at development
#: time (``python -m kernelmodel.state.gen``), never in a model, and runpy cannot run a
#: compiled module. The list is setup.py's MYPYC_EXCLUDE (a test holds the two equal).
NEVER_COMPILED: frozenset[str] = frozenset({
    "kernelmodel.state.gen", "kernelmodel.state.gen_count", "kernelmodel.state.gen_helpers"})


def _module_kinds() -> dict[str, str]:
    """Where each module of the compiled packages would be loaded from, without running it."""
    kinds: dict[str, str] = {}
    for pkg_name in COMPILED_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        # every module of every sub-package (kernelmodel/mm/, ...); the packages' own
        # __init__ files are never compiled, so they say nothing about the flavour
        for info in pkgutil.walk_packages(pkg.__path__, f"{pkg_name}."):
            if info.ispkg or info.name in NEVER_COMPILED:
                continue
            name = info.name
            mod = sys.modules.get(name)
            if mod is not None:
                path = getattr(mod, "__file__", None) or ""
            else:
                spec = importlib.util.find_spec(name)
                path = (spec.origin if spec is not None else None) or ""
            kinds[name] = "compiled" if path.endswith((".so", ".pyd")) else "interpreted"
    return kinds


def flavour() -> str:
    """Return "compiled", "interpreted" or "mixed (...)" for the imported model packages."""
    if os.environ.get("VMLAB_INTERPRETED") == "1":
        install_source_only_finder()
    kinds = _module_kinds()
    found = set(kinds.values())
    if len(found) == 1:
        return found.pop()
    if not found:
        return "interpreted"
    compiled = sorted(n for n, k in kinds.items() if k == "compiled")
    return f"mixed ({len(compiled)} of {len(kinds)} modules compiled)"
