"""Root pytest configuration: choose and verify the flavour of machine/ and kernelmodel/.

The packages sit at the repository root, so a test run could silently import the ``.py``
sources instead of the compiled extension modules. This file makes the flavour explicit:

* ``VMLAB_INTERPRETED=1`` forces the ``.py`` sources (an import hook that sees only sources);
* ``VMLAB_EXPECT=compiled|interpreted`` fails the run when the other flavour was imported, or
  when the two packages are mixed. CI sets ``VMLAB_EXPECT=compiled``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenarios.flavour import flavour, install_source_only_finder

if os.environ.get("VMLAB_INTERPRETED") == "1":
    install_source_only_finder()


def pytest_report_header(config: object) -> str:
    return f"vmlab flavour: {flavour()}"


def pytest_sessionstart(session: object) -> None:
    want = os.environ.get("VMLAB_EXPECT") or _default_expectation()
    got = flavour()
    if want and want != got:
        raise RuntimeError(f"VMLAB_EXPECT={want} but the imported machine/kernelmodel are {got}")


def pytest_collection_modifyitems(config: object, items: list[object]) -> None:
    import pytest

    if flavour() != "compiled":
        return
    skip = pytest.mark.skip(reason="relies on interpreted-only behaviour; not valid under mypyc")
    for item in items:
        if item.get_closest_marker("incompatible_with_mypyc"):  # type: ignore[attr-defined]
            item.add_marker(skip)


def _default_expectation() -> str:
    """Plain ``pytest`` must prove it tested the compiled build, unless told otherwise."""
    if os.environ.get("VMLAB_INTERPRETED") == "1" or os.environ.get("VMLAB_PURE") == "1":
        return "interpreted"
    return "compiled"
