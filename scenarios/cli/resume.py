"""Continue a run from a snapshot, exactly where it stopped, with the output of 'vmlab run'.

FILE is a snapshot written by 'vmlab run --snapshot-at POINT --snapshot-out FILE' (or by the
Python API's save_snapshot). The run goes on to the end of the scenario, or to --until (an
absolute simulated time, event count, checkpoint or check, as for 'vmlab run'); the summary, --json
and the state hash are those the uninterrupted run prints. --trace writes the trace events
from the snapshot on.

Before anything runs, the snapshot is checked: its format and version, its checksum, the shape
of every section, the state hash, and the restored kernel against the invariant checker and
the data oracle. A damaged or foreign file is refused with one line, and so is anything that
is not a regular file (a device, a named pipe, a socket), before it is opened. A snapshot
written by another behaviour version of the model (scenarios/behaviour.py) is resumed, with
one line on stderr saying that the run may go on differently from the one that wrote it.

exit status: 0 every expectation holds, 1 one failed (or the kernel hit a BUG), 2 bad input.

examples:
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap --quiet
  vmlab resume storm.vmsnap
  vmlab resume storm.vmsnap --until 1.1s --json rest.json --trace rest.jsonl
  vmlab resume storm.vmsnap --until 1.1s --series storm.csv
                        the counters from boot to 1.1 s (the snapshot kept those before it)
"""

from __future__ import annotations

import argparse
import os
import sys

from scenarios.behaviour import behaviour_notice
from scenarios.cli.common import CliError
from scenarios.cli.running import (
    Outputs,
    Until,
    add_snapshot_arguments,
    open_output,
    parse_until,
    run_session,
    snapshot_request,
)
from scenarios.cli.series_opts import SeriesOutputs, add_series_arguments
from scenarios.units import format_duration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a snapshot file")
    parser.add_argument("--until", metavar="TIME|EVENTS|CHECKPOINT|CHECK",
                        help="stop early: at a simulated time (2s), after a number of events "
                             "since boot (100000), at a checkpoint (synced) or once a check "
                             "holds after an event ('pswpin > 100')")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--trace", metavar="FILE",
                        help="write the trace events from the snapshot on as JSON lines")
    add_snapshot_arguments(parser)
    add_series_arguments(parser, interval=False)
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing; the exit status tells the outcome")


def execute(args: argparse.Namespace) -> int:
    from scenarios.snapshot import SnapshotError, load_snapshot

    try:
        session = load_snapshot(args.file)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    notice = behaviour_notice(session.behaviour_version, os.path.basename(args.file))
    if notice is not None and not args.quiet:
        print(f"vmlab resume: {notice}", file=sys.stderr)
    scenario = session.scenario
    until = parse_until(args.until, scenario) if args.until is not None else Until()
    request = snapshot_request(args.snapshot_at, args.snapshot_out, scenario, args.full)
    series = SeriesOutputs.from_args(args)
    trace = open_output(args.trace, "--trace")
    json_out = open_output(args.json, "--json")
    try:
        if trace is not None:
            session.trace_to(trace, from_start=False)
        series.attach(session)
        resumed = (f"{args.file} ({format_duration(session.sim_time_ns)}, "
                   f"event {session.events:,})")
        outputs = Outputs(json_out, args.quiet, resumed, progress=series.vmstat_ns is None)
        code = run_session(session, until, outputs, "resume", request)
        series.finish(session, args.quiet)
        return code
    finally:
        series.close()
        for f in (trace, json_out):
            if f is not None:
                f.close()
