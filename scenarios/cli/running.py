"""What 'vmlab run' and 'vmlab resume' share: stopping points, the run loop, snapshots on the
way, and the results (summary table, --json, exit status).

A stopping point (``Point``) is a simulated time, an event count, a checkpoint name or a
check in the language of expectations (``nr_dirty == 0``), parsed from the forms --until and
--snapshot-at take. A check is evaluated after every event, so the run stops between two
events, where a snapshot can be saved and ``vmlab resume`` can go on (``Session.run_until``
and the dashboard stop finer, at the trace record inside an event). ``run_session`` runs a
session to --until (or the end), saving a snapshot at --snapshot-at on the way, and reports
exactly as 'vmlab run' always has.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from scenarios.cli.common import CliError
from scenarios.expect import COMPARATORS, Check, ExpectError, parse_check, suggest
from scenarios.one_line import one_line
from scenarios.profiles import DESIGNS, design_lines, design_origins
from scenarios.schema import Scenario
from scenarios.units import (
    UnitError,
    UnitRangeError,
    format_duration,
    format_size,
    parse_duration,
    parse_int,
)

if TYPE_CHECKING:
    from scenarios.session import ExpectationResult, Session
    from scenarios.story import StoryHit

#: Most events a run counts (a signed 64-bit counter).
MAX_EVENTS = (1 << 63) - 1

#: Counters the summary shows when the kernel reports them.
KEY_COUNTERS = (
    "nr_dirty", "nr_writeback", "nr_pagecache", "nr_mapped", "nr_anon", "pgpgin", "pgpgout",
    "pswpin", "pswpout", "pgfault", "pgmajfault", "cow_faults", "writeback_pages",
    "fsync_calls", "fsync_latency_ns", "throttled_ns", "pgscan", "pgsteal",
    "try_to_unmap_calls", "rmap_walk_steps", "head_travel_sectors", "oom_kill", "segfaults",
)


@dataclass(frozen=True)
class Until:
    """A stopping point: at most one field is set (none: run to the end)."""

    time_ns: int | None = None
    events: int | None = None
    checkpoint: str | None = None
    #: A check that stops the run after the first event at whose end it holds.
    check: Check | None = None

    def kind(self) -> str:
        """The Session.run stop reason this point gives ("time", "events", "checkpoint"),
        or "check"."""
        if self.time_ns is not None:
            return "time"
        if self.events is not None:
            return "events"
        if self.check is not None:
            return "check"
        return "checkpoint" if self.checkpoint is not None else "end"

    def describe(self) -> str:
        if self.time_ns is not None:
            return format_duration(self.time_ns)
        if self.events is not None:
            return f"event {self.events:,}"
        if self.check is not None:
            return f'"{self.check.text}"'
        return f'checkpoint "{self.checkpoint}"' if self.checkpoint is not None else "the end"

    def reached(self, session: Session, first_hit: int) -> bool:
        """True once ``session`` stands at or past the point (checkpoints: hit since
        ``first_hit``, an index into session.checkpoints)."""
        if self.time_ns is not None:
            return session.kernel.machine.clock.peek_time() > self.time_ns
        if self.events is not None:
            return session.events >= self.events
        if self.check is not None:
            from scenarios.finestep import check_holds

            return check_holds(session, self.check)
        if self.checkpoint is not None:
            return any(r.name == self.checkpoint for r in session.checkpoints[first_hit:])
        return False


def _looks_like_check(text: str) -> bool:
    """A comparison or an ``and``: meant as a check, so its own error is the one to show."""
    return any(c in text for c in COMPARATORS) or " and " in f" {text} "


def _parse_check(text: str, option: str) -> Until:
    try:
        check = parse_check(text)
    except ExpectError as exc:
        raise CliError(f'{option}: "{text}": {exc}') from None
    if check.checkpoints():
        raise CliError(f'{option}: "{text}": METRIC@CHECKPOINT is not available in a stopping '
                       f"point; name a metric now (nr_dirty == 0)")
    return Until(check=check)


def parse_until(text: str, scenario: Scenario, option: str = "--until") -> Until:
    """Interpret a stopping point: a duration with a unit, a plain event count, a
    checkpoint name, or a check (``nr_dirty == 0``, ``pgmajfault > 100 and nr_writeback
    == 0``; a bare metric holds when it is not zero).

    Raises:
        CliError: none of these (a check that does not parse says what is wrong with it).
    """
    names = scenario.checkpoint_names()
    if text in names:
        return Until(checkpoint=text)
    if _looks_like_check(text):
        return _parse_check(text, option)
    try:
        events = parse_int(text, "event count")
    except UnitRangeError as exc:
        raise CliError(f"{option}: {exc}") from None
    except UnitError:
        pass
    else:
        if events > MAX_EVENTS:
            raise CliError(f"{option}: {events} events is more than a run counts "
                           f"({MAX_EVENTS}, 2^63-1)")
        return Until(events=events)
    try:
        return Until(time_ns=parse_duration(text))
    except UnitRangeError as exc:
        raise CliError(f"{option}: {exc}") from None
    except UnitError:
        pass
    try:
        return Until(check=parse_check(text))
    except ExpectError:
        pass
    known = f"; its checkpoints: {', '.join(names)}" if names else ""
    raise CliError(f'{option}: "{text}" is not a time (2s), an event count (100000), a '
                   f"check (nr_dirty == 0) or a checkpoint of {scenario.name}"
                   f"{suggest(text, names)}{known}")


def open_output(path: str | None, option: str) -> TextIO | None:
    """Open an output file named by an option (the caller closes it)."""
    if path is None:
        return None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None


def progress_run(session: Session, until: Until, show: bool,
                 predicate: Callable[[Session], bool] | None = None) -> str:
    """Run the session, with a rich progress bar of simulated time when ``show``.

    Returns:
        Session.run's stop reason, or "check" when ``until``'s check stopped it.
    """
    if until.check is None:
        return _progress_run(session, until, show, predicate)
    also = predicate

    def holds(s: Session) -> bool:
        return until.reached(s, 0) or (also is not None and also(s))

    if until.reached(session, 0):
        return "check"
    stopped = _progress_run(session, until, show, holds)
    return "check" if stopped == "predicate" and until.reached(session, 0) else stopped


def _progress_run(session: Session, until: Until, show: bool,
                  predicate: Callable[[Session], bool] | None) -> str:
    if not show:
        return session.run(until_ns=until.time_ns, until_events=until.events,
                           until_checkpoint=until.checkpoint, predicate=predicate)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total = session.scenario.duration_ns
    if until.time_ns is not None:
        total = min(total, until.time_ns)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.fields[sim]} simulated, {task.fields[events]} events"),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(session.scenario.name, total=total, sim="0s", events=0)

        def update(now: int, events: int) -> None:
            bar.update(task, completed=min(now, total), sim=format_duration(now), events=events)

        return session.run(until_ns=until.time_ns, until_events=until.events,
                           until_checkpoint=until.checkpoint, predicate=predicate,
                           progress=update)


@dataclass(frozen=True)
class SnapshotRequest:
    """--snapshot-at POINT --snapshot-out FILE [--full]."""

    point: Until
    path: str
    compact: bool = True


def add_snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    """--snapshot-at, --snapshot-out and --compact/--full, for 'vmlab run' and 'resume'."""
    parser.add_argument("--snapshot-at", metavar="POINT",
                        help="save a snapshot when the run reaches POINT (a time, an event "
                             "count, a checkpoint or a check, as --until takes), then go on")
    parser.add_argument("--snapshot-out", metavar="FILE",
                        help="where --snapshot-at writes; 'vmlab resume FILE' continues there")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--compact", dest="full", action="store_false", default=False,
                      help="store file data that follows from the scenario's writes and "
                           "boot files as those, not as bytes (the default)")
    size.add_argument("--full", dest="full", action="store_true", default=False,
                      help="store every byte of RAM, the disk and the oracle (larger; loads "
                           "into the same state)")


def snapshot_request(at: str | None, out: str | None, scenario: Scenario,
                     full: bool = False) -> SnapshotRequest | None:
    """Check that --snapshot-at and --snapshot-out come together and parse the point."""
    if at is None and out is None:
        if full:
            raise CliError("--full applies to a snapshot: give --snapshot-at POINT "
                           "--snapshot-out FILE too")
        return None
    if at is None or out is None:
        missing = "--snapshot-out FILE" if out is None else "--snapshot-at POINT"
        raise CliError(f"{missing} is needed too (--snapshot-at POINT --snapshot-out FILE)")
    return SnapshotRequest(parse_until(at, scenario, "--snapshot-at"), out, not full)


def _run_with_snapshot(session: Session, until: Until, show: bool,
                       request: SnapshotRequest, command: str) -> str:
    """Run to the snapshot point (or --until, or the end, whichever comes first), save the
    snapshot there, then go on to --until or the end."""
    from scenarios.snapshot import SnapshotError, save_snapshot

    first = len(session.checkpoints)
    point = request.point

    def stop(s: Session) -> bool:
        return point.reached(s, first) or until.reached(s, first)

    stopped = "predicate" if stop(session) else progress_run(session, Until(), show, stop)
    reached = point.reached(session, first)
    try:
        saved = save_snapshot(session, request.path, request.compact)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    if not reached:
        print(f"vmlab {command}: the run stopped before --snapshot-at {point.describe()}; "
              f"the snapshot was taken where it stopped", file=sys.stderr)
    if show:
        print(f"snapshot: {saved.path} ({format_size(saved.size)}) at "
              f"{format_duration(session.sim_time_ns)}, event {session.events:,}",
              file=sys.stderr)
    if stopped == "end":
        return stopped
    if until.reached(session, first):
        return until.kind()
    return progress_run(session, until, show)


def _result_json(session: Session, metrics: dict[str, int], results: list[ExpectationResult],
                 stopped: str, digest: str) -> dict[str, object]:
    spec = session.kernel_spec
    return {
        "scenario": session.scenario.name,
        "kernel": spec.profile,
        "switches": {d.switch: getattr(spec, d.switch) for d in DESIGNS},
        "designs": design_origins(spec),
        "seed": session.seed,
        "stopped": stopped if stopped != "end" else f"end ({session.end_reason})",
        "sim_time_ns": session.sim_time_ns,
        "events": session.events,
        "state_hash": digest,
        "metrics": metrics,
        "expectations": [{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results],
        "story": [{"time_ns": h.time_ns, "event": h.event, "text": h.text}
                  for h in session.story],
    }


def _print_summary(session: Session, metrics: dict[str, int], results: list[ExpectationResult],
                   stopped: str, wall_s: float, digest: str, resumed: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    spec = session.kernel_spec
    console = Console(highlight=False)
    table = Table(title=f"{session.scenario.name}: kernel {spec.profile}, seed {session.seed}",
                  show_header=False, title_justify="left")
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    if resumed is not None:
        table.add_row("resumed from", resumed)
    for d, line in zip(DESIGNS, design_lines(spec), strict=True):
        table.add_row(d.switch, line.split(" ", 1)[1])
    how = f"end ({session.end_reason})" if stopped == "end" else f"--until ({stopped})"
    table.add_row("stopped", how)
    table.add_row("simulated time", format_duration(session.sim_time_ns))
    table.add_row("events", f"{session.events:,}")
    table.add_row("wall time", f"{wall_s:.2f}s")
    accesses = metrics.get("cpu_accesses", 0)
    if wall_s > 0:
        table.add_row("simulated accesses/s", f"{accesses / wall_s:,.0f}")
        table.add_row("events/s", f"{session.events / wall_s:,.0f}")
    for name in KEY_COUNTERS:
        if name in metrics:
            value = metrics[name]
            shown = f"{value:,}" + (f" ({format_duration(value)})" if name.endswith("_ns") else "")
            table.add_row(name, shown)
    table.add_row("state hash", digest)
    console.print(table)
    if results:
        exp = Table(title="expectations", title_justify="left")
        exp.add_column("", width=4, no_wrap=True)
        exp.add_column("expectation", overflow="fold")
        exp.add_column("detail", overflow="fold")
        for r in results:
            exp.add_row("[green]pass[/]" if r.ok else "[red]FAIL[/]", r.name, r.detail)
        console.print(exp)


def print_story(hit: StoryHit) -> None:
    """One story text as it comes: its simulated time, then the text on one line."""
    print(f"story {format_duration(hit.time_ns):>9}  {' '.join(hit.text.split())}", flush=True)


@dataclass(frozen=True)
class Outputs:
    """Where the results go; ``resumed`` names the snapshot a resumed run started from."""

    json_out: TextIO | None = None
    quiet: bool = False
    resumed: str | None = None
    #: Show a progress bar on a terminal (not while vmstat lines are printed).
    progress: bool = True


def run_session(session: Session, until: Until, outputs: Outputs, command: str,
                request: SnapshotRequest | None = None) -> int:
    """Run ``session`` to ``until`` (snapshotting on the way if asked) and report.

    Returns:
        0 when every expectation holds, 1 when one fails or the kernel hit a BUG.
    """
    from kernelmodel.include.bug import KernelBug

    show = not outputs.quiet and outputs.progress and sys.stderr.isatty()
    if not outputs.quiet and session.scenario.story:
        # a resumed run starts from the story's current text, a fresh one from its start
        shown = session.story if outputs.resumed is None else session.story[-1:]
        for hit in shown:
            print_story(hit)
        session.on_story(print_story)
    start = time.perf_counter()
    try:
        if request is not None:
            stopped = _run_with_snapshot(session, until, show, request, command)
        else:
            stopped = progress_run(session, until, show)
    except KernelBug as exc:
        print(one_line(f"vmlab {command}: kernel BUG at {format_duration(session.sim_time_ns)} "
                       f"(event {session.events}): {exc}"), file=sys.stderr)
        return 1
    except CliError:
        raise
    except Exception as exc:
        if outputs.resumed is None:
            raise
        # A snapshot that passed every check but still breaks the model is bad input here.
        text = " ".join(str(exc).split())
        raise CliError(f"the resumed run failed at {format_duration(session.sim_time_ns)} "
                       f"(event {session.events}): {type(exc).__name__}: {text}") from None
    wall_s = time.perf_counter() - start
    # one oracle and checker pass serves both the expectations and the reported metrics
    metrics = session.metrics()
    results = session.evaluate_expectations(metrics)
    digest = session.state_hash()
    if stopped == "check" and not outputs.quiet:
        print(f"until {until.describe()}: holds after event {session.events:,}, at "
              f"{format_duration(session.sim_time_ns)}; state hash {digest}", flush=True)
    if outputs.json_out is not None:
        json.dump(_result_json(session, metrics, results, stopped, digest), outputs.json_out,
                  indent=2)
        outputs.json_out.write("\n")
    if not outputs.quiet:
        _print_summary(session, metrics, results, stopped, wall_s, digest, outputs.resumed)
    return 0 if all(r.ok for r in results) else 1
