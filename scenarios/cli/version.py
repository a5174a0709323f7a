"""Print the vmlab version and whether the model runs compiled (mypyc) or as pure Python."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata

from scenarios.flavour import flavour


def vmlab_version() -> str:
    try:
        return metadata.version("vmlab")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def execute(args: argparse.Namespace) -> int:
    del args
    kind = flavour()
    print(f"vmlab {vmlab_version()}")
    print(f"compiled: {'yes' if kind == 'compiled' else 'no' if kind == 'interpreted' else kind}")
    print(f"python: {platform.python_version()} ({platform.machine()})")
    return 0
