"""Shared pieces of the command line: one-line errors and argument parsing."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from scenarios.one_line import one_line


class CliError(Exception):
    """Bad input from the user; printed as one line on stderr with exit code 2."""


def parse_seed(text: str | None) -> int | None:
    """--seed N: an integer in 0..2^63-1 (as a scenario's ``seed``), or None when not given.

    Raises:
        CliError: not such an integer.
    """
    from scenarios.loader import MAX_SEED
    from scenarios.units import UnitError, parse_int

    if text is None:
        return None
    try:
        seed = parse_int(text, "seed")
    except UnitError as exc:
        raise CliError(f"--seed: {exc}") from None
    if seed > MAX_SEED:
        raise CliError(f"--seed: {seed} is outside 0..{MAX_SEED} (2^63-1)")
    return seed


class VmlabArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2 (argparse's own convention)."""

    def error(self, message: str) -> NoReturn:
        print(one_line(f"{self.prog}: {message} (see '{self.prog} --help')"), file=sys.stderr)
        sys.exit(2)
