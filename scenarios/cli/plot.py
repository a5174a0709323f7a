"""Plot a metric of a sweep's results file in the terminal.

FILE is what 'vmlab sweep ... --out FILE' wrote (CSV or Parquet; a sweep still running or
interrupted is fine: what is there is drawn). --x is a column, usually a --set parameter
(machine.memory) or seed; --y is a metric (any of 'vmlab run --json'); --by splits the
rows into one line each: "kernel" (the default: profile and designs) or any column. Sizes
and durations on the x axis are placed by their value (16MiB, 32MiB, 64MiB), other text in
the order it first appears. Runs with several seeds are averaged; failed runs are left out.

exit status: 0 drawn, 2 bad input (one line on stderr).

examples:
  vmlab sweep writeback-order --kernels 2.6.5,2.6.6 --set machine.memory=32MiB,64MiB \\
      --out travel.csv --quiet
  vmlab plot travel.csv --x machine.memory --y head_travel_sectors
  vmlab plot travel.csv --x machine.memory --y sim_time_ns --by kernel --log
"""

from __future__ import annotations

import argparse
import sys

from scenarios.cli.common import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a sweep's results (.csv or .parquet)")
    parser.add_argument("--x", metavar="PARAM", required=True,
                        help="the column along the x axis (a --set parameter, or seed)")
    parser.add_argument("--y", metavar="METRIC", required=True,
                        help="the metric along the y axis (head_travel_sectors, ...)")
    parser.add_argument("--by", metavar="COLUMN", default="kernel",
                        help='one line per value of COLUMN (default "kernel": one per kernel '
                             "configuration)")
    parser.add_argument("--log", action="store_true", help="a logarithmic y axis")
    parser.add_argument("--width", metavar="N", type=int,
                        help="columns (default: the terminal's, at most 100)")
    parser.add_argument("--height", metavar="N", type=int, default=20, help="lines (default 20)")


def execute(args: argparse.Namespace) -> int:
    import shutil

    from scenarios.sweep.params import SweepError
    from scenarios.sweep.report import plot_text
    from scenarios.sweep.store import read_results

    width = args.width if args.width is not None else min(shutil.get_terminal_size().columns,
                                                           100)
    if width < 30 or args.height < 8:
        raise CliError("--width must be at least 30 and --height at least 8")
    try:
        cols, rows = read_results(args.file)
        print(plot_text(rows, cols, args.x, args.y, args.by, width=width, height=args.height,
                        log_y=args.log, color=sys.stdout.isatty()))
    except SweepError as exc:
        raise CliError(str(exc)) from None
    return 0
