"""List the built-in scenarios with their descriptions.

Run one with 'vmlab run NAME'; copy one as a starting point from the package's
scenarios/builtin/ directory. The scenario language is described in docs/scenarios.md.
"""

from __future__ import annotations

import argparse

from scenarios.cli.common import CliError
from scenarios.loader import ScenarioError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--names", action="store_true",
                        help="print only the names, one a line (for scripts)")


def execute(args: argparse.Namespace) -> int:
    from scenarios.library import list_builtin

    try:
        scenarios = list_builtin()
    except ScenarioError as exc:
        raise CliError(f"a built-in scenario is invalid: {exc}") from None
    if args.names:
        for name, _ in scenarios:
            print(name)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="built-in scenarios (run one with 'vmlab run NAME')",
                  title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("description")
    for name, description in scenarios:
        table.add_row(name, description)
    Console(highlight=False).print(table)
    return 0
