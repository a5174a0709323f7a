"""Shared pieces of the command line: one-line errors and argument parsing."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class CliError(Exception):
    """Bad input from the user; printed as one line on stderr with exit code 2."""


class VmlabArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2 (argparse's own convention)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)
