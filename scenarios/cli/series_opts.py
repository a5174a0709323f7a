"""--series, --series-interval and --vmstat: the counters over time, for 'vmlab run' and
'vmlab resume'."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from scenarios.cli.common import CliError
from scenarios.cli.running import open_output
from scenarios.series import DEFAULT_INTERVAL_NS
from scenarios.units import UnitError, parse_duration

if TYPE_CHECKING:
    from scenarios.session import Session
    from scenarios.vmstat_lines import VmstatLines


def add_series_arguments(parser: argparse.ArgumentParser, interval: bool = True) -> None:
    """The options; ``interval``: --series-interval too (a fresh run; a snapshot keeps its
    own)."""
    parser.add_argument("--series", metavar="FILE",
                        help="write every counter over simulated time as CSV to FILE: "
                             "sim_time_ns, then one column per metric of --json")
    if interval:
        parser.add_argument("--series-interval", metavar="TIME", default=None,
                            help="the step of simulated time between samples (default 10ms)")
    parser.add_argument("--vmstat", metavar="INTERVAL",
                        help="print a vmstat(8)-style line every INTERVAL of simulated time "
                             "(e.g. 100ms) as the run goes, on stdout (also with --quiet)")


def _interval(text: str, option: str) -> int:
    try:
        ns = parse_duration(text)
    except UnitError as exc:
        raise CliError(f"{option}: {exc}") from None
    if ns <= 0:
        raise CliError(f"{option}: the interval must be longer than 0")
    return ns


@dataclass
class SeriesOutputs:
    """What the options asked for, checked before the run starts."""

    csv: TextIO | None = None
    csv_path: str = ""
    interval_ns: int = DEFAULT_INTERVAL_NS
    vmstat_ns: int | None = None
    vmstat: VmstatLines | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SeriesOutputs:
        """Parse the intervals and open the CSV file (the caller closes it)."""
        interval = getattr(args, "series_interval", None)
        out = cls(interval_ns=_interval(interval, "--series-interval")
                  if interval is not None else DEFAULT_INTERVAL_NS,
                  vmstat_ns=_interval(args.vmstat, "--vmstat")
                  if args.vmstat is not None else None)
        out.csv = open_output(args.series, "--series")
        out.csv_path = args.series or ""
        return out

    def attach(self, session: Session) -> None:
        """Start the vmstat lines (on stdout), if asked for."""
        if self.vmstat_ns is not None:
            from scenarios.vmstat_lines import VmstatLines

            self.vmstat = VmstatLines(session.kernel, self.vmstat_ns, sys.stdout,
                                      session.sim_time_ns)
            session.add_sampler(self.vmstat)

    def finish(self, session: Session, quiet: bool) -> None:
        """Print the last vmstat line; write the CSV and close it."""
        if self.vmstat is not None:
            self.vmstat.finish(session.sample_values(), session.sim_time_ns)
        if self.csv is None:
            return
        try:
            rows = session.series.write_csv(self.csv)
        finally:
            self.csv.close()
            self.csv = None
        if not quiet:
            print(f"series: {self.csv_path} ({rows:,} samples, one per "
                  f"{session.series.interval_ns / 1e6:g} ms of simulated time)",
                  file=sys.stderr)

    def close(self) -> None:
        if self.csv is not None:
            self.csv.close()
