"""Run a scenario headless and print its results.

SCENARIO is a built-in name (see 'vmlab scenarios') or a .toml file. The run ends when every
task has exited, nothing is left to do, or the scenario's duration is reached; --until stops
it earlier: at a time, an event count, a checkpoint, or once a check in the language of
expectations holds (checked after every event; a bad check is one line and exit status 2).
The scenario's story (its [[story]] texts) is printed as each text comes, with
its simulated time. A table of results follows: simulated and wall time, events, key counters, every
expectation with its outcome, and the state hash (equal for equal scenario, seed and kernel).

exit status: 0 every expectation holds, 1 one failed (or the kernel hit a BUG), 2 bad input.

examples:
  vmlab run default
  vmlab run fsync-under-writeback --seed 7 --json result.json
  vmlab run fsync-under-writeback --until synced     stop at checkpoint "synced"
  vmlab run writeback-order --until 2s --trace t.jsonl
  vmlab run writeback-order --until 'nr_writeback > 0'
                                            stop after the first event that leaves a page
                                            under writeback; prints where, and the state hash
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap
                                            save the state at 1 s (the run ends at 2.64 s);
                                            'vmlab resume storm.vmsnap' goes on from there
  vmlab run cmp-reclaim --vmscan 2.6.6      the 2.6.7 profile with 2.6.6's reclaim
  vmlab run swap-storm --swapin 2.6.6       the 2.6.7 profile with 2.6.6's do_swap_page
  vmlab run writeback-order --until 2s --series counters.csv
                                            every counter every 10 ms of simulated time
  vmlab run dirty-throttle --until 1s --vmstat 100ms
                                            a vmstat(8)-style line every 100 ms

The summary's title names the kernel profile and, per design switch, the design that runs
and the release whose code it follows; a design that is not the profile's own says so.
"""

from __future__ import annotations

import argparse

from scenarios.cli.common import CliError, parse_seed
from scenarios.cli.running import (
    KEY_COUNTERS,
    Outputs,
    Until,
    add_snapshot_arguments,
    open_output,
    parse_until,
    run_session,
    snapshot_request,
)
from scenarios.cli.series_opts import SeriesOutputs, add_series_arguments
from scenarios.loader import ScenarioError
from scenarios.profiles import ProfileError, check_runnable, resolve_kernel, with_designs
from scenarios.schema import Scenario

__all__ = ["KEY_COUNTERS", "Until", "add_arguments", "execute", "parse_until"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="a built-in scenario name or a .toml file")
    parser.add_argument("--seed", metavar="N", help="override the scenario's seed")
    parser.add_argument("--kernel", metavar="PROFILE",
                        help="run on this kernel profile instead (2.6.5, 2.6.6, 2.6.7)")
    parser.add_argument("--vmscan", metavar="DESIGN",
                        help="run with this page-reclaim design (mm/vmscan.c) instead of the "
                             "profile's own: 2.6.6 or 2.6.7 (2.6.7 rewrote reclaim)")
    parser.add_argument("--swapin", metavar="DESIGN",
                        help="run with this release's swap-in fault (do_swap_page) instead of "
                             "the profile's own: 2.6.6 (a write to a shared swapped-in page "
                             "faults again) or 2.6.7 (COW broken inside the fault)")
    parser.add_argument("--until", metavar="TIME|EVENTS|CHECKPOINT|CHECK",
                        help="stop early: at a simulated time (2s), after a number of events "
                             "(100000), at a checkpoint (synced) or after the first event at "
                             "whose end a check holds ('nr_dirty == 0', 'pgmajfault > 100 and "
                             "nr_writeback == 0')")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--trace", metavar="FILE",
                        help="write every trace event as a JSON line to FILE")
    add_snapshot_arguments(parser)
    add_series_arguments(parser)
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing (neither the story nor the results); the exit "
                             "status tells the outcome")


def execute(args: argparse.Namespace) -> int:
    from scenarios.library import load_scenario
    from scenarios.session import Session, SessionError

    try:
        scenario: Scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    until = parse_until(args.until, scenario) if args.until is not None else Until()
    request = snapshot_request(args.snapshot_at, args.snapshot_out, scenario, args.full)
    seed = parse_seed(args.seed)
    try:
        spec = with_designs(resolve_kernel(scenario.kernel, args.kernel), vmscan=args.vmscan,
                            swapin=args.swapin)
        check_runnable(spec)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    series = SeriesOutputs.from_args(args)
    trace = open_output(args.trace, "--trace")
    json_out = open_output(args.json, "--json")
    try:
        try:
            session = Session(scenario, seed=seed, kernel=spec,
                              series_interval_ns=series.interval_ns)
        except SessionError as exc:
            raise CliError(str(exc)) from None
        if trace is not None:
            session.trace_to(trace)
        series.attach(session)
        outputs = Outputs(json_out, args.quiet, progress=series.vmstat_ns is None)
        code = run_session(session, until, outputs, "run", request)
        series.finish(session, args.quiet)
        return code
    finally:
        series.close()
        for f in (trace, json_out):
            if f is not None:
                f.close()
