"""Entry point of the ``vmlab`` command.

``vmlab`` alone opens the dashboard on the built-in default scenario; every other form is a
subcommand whose module is imported only when it runs, so headless commands never import
Textual.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import os
import sys
from collections.abc import Sequence

from scenarios.cli.common import CliError, VmlabArgumentParser
from scenarios.one_line import one_line

#: subcommand -> (module under scenarios.cli, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run a scenario headless and print its results"),
    "resume": ("resume", "continue a run from a snapshot file"),
    "compare": ("compare", "run a scenario on several kernels and compare them side by side"),
    "snapshot": ("snapshot_cmd", "look inside snapshots: info, report, decode, diff"),
    "sweep": ("sweep", "run a scenario across many configurations (local processes or Ray)"),
    "plot": ("plot", "plot a metric of a sweep's results file in the terminal"),
    "proc": ("proc", "print a /proc file of the machine: meminfo, vmstat, maps, status, "
                     "page-types"),
    "tui": ("tui_cmd", "open the dashboard on a scenario or a snapshot"),
    "serve": ("serve", "serve the dashboard to web browsers, a session per tab"),
    "scenarios": ("list_scenarios", "list the built-in scenarios"),
    "trace": ("trace_cmd", "record a real program's memory accesses, import and inspect traces"),
    "bench": ("bench", "measure the simulator's speed, compiled and pure side by side"),
    "version": ("version", "print the version and whether the model is compiled"),
}

EPILOG = """\
examples:
  vmlab                              open the dashboard on the built-in default scenario
  vmlab tui fork-cow                 open the dashboard on another scenario
  vmlab serve fork-cow --host 0.0.0.0  the dashboard in the browsers of a class
  vmlab run default                  run the default scenario headless
  vmlab run writeback-order --json out.json
  vmlab compare cmp-writeback-order  the same workload on 2.6.5, 2.6.6 and 2.6.7, side by side
  vmlab sweep writeback-order --kernels 2.6.5,2.6.6 --set machine.memory=32MiB,64MiB
                                     every combination, one row per run, a summary by kernel
  vmlab run writeback-order --until 1s --series c.csv
                                     every counter every 10 ms of simulated time, as CSV
  vmlab proc writeback-order --at 1s meminfo   /proc/meminfo at 1 s of simulated time
  vmlab scenarios                    what is built in
  vmlab trace record ls.vmtrace -- ls /   record a real program's memory accesses
  vmlab bench --quick --only writeback   how fast is this build

Run 'vmlab COMMAND --help' for a command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = VmlabArgumentParser(
        prog="vmlab",
        description=(
            "An emulated i386 machine running a model of the Linux 2.6.6 virtual-memory "
            "subsystem: watch it, script it, measure it, snapshot it."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        mod = importlib.import_module(f"scenarios.cli.{module}")
        p = sub.add_parser(
            name,
            help=help_text,
            description=mod.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 expectation failed, 2 bad input,
    130 interrupted, 141 the reader of the output went away)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if importlib.util.find_spec("tui.app") is None:
            parser.print_help()
            return 0
        mod = importlib.import_module("scenarios.cli.tui_cmd")
        return int(mod.execute(args))
    try:
        return int(args._module.execute(args))
    except CliError as exc:
        print(one_line(f"vmlab {args.command}: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vmlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader stopped reading (``| head``): stop quietly, as a process SIGPIPE ends
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # stdout is not a file (an embedding caller's stream): nothing to flush


if __name__ == "__main__":
    sys.exit(main())
