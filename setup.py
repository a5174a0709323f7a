"""Build vmlab: mypyc compiles machine/ and kernelmodel/; scenarios/ and tui/ stay Python.

``VMLAB_PURE=1 pip install .`` builds and installs pure Python (no C compiler needed).
"""

from __future__ import annotations

import os
from glob import glob

from setuptools import setup

# Each excluded module carries its reason.
MYPYC_EXCLUDE: tuple[str, ...] = (
    # Package __init__ files (of every sub-package too: kernelmodel/mm/, kernelmodel/fs/, ...)
    # stay interpreted so that package __path__ handling is plain Python.
    "__init__.py",
    # The source generator of the declared state runs at development time, never in a model.
    "kernelmodel/state/gen.py",
    "kernelmodel/state/gen_count.py",
    "kernelmodel/state/gen_helpers.py",
)


def _compiled_modules() -> list[str]:
    files = sorted(
        path
        for pkg in ("machine", "kernelmodel")
        for path in glob(f"{pkg}/**/*.py", recursive=True)
    )
    return [f for f in files
            if os.path.basename(f) not in MYPYC_EXCLUDE and f not in MYPYC_EXCLUDE]


ext_modules = []
if os.environ.get("VMLAB_PURE", "0").lower() not in ("1", "true", "yes"):
    from mypyc.build import mypycify

    ext_modules = mypycify(_compiled_modules(), opt_level="3")

setup(ext_modules=ext_modules)
