"""Run one scenario on several kernels with the same seed and show the results side by side.

This is how vmlab shows *why* 2.6.6 changed the VM: the same workload, the same random
numbers, one column per kernel, and the ratio of each figure to the first column.

SCENARIO is a built-in name (see 'vmlab scenarios'; the cmp-* ones are made for this) or a
.toml file. Each column is one kernel configuration:

  2.6.5   writeback=lists (page lists)  rmap=pte_chain (PTE chains)  vmscan=2.6.6  swapin=2.6.6
  2.6.6   writeback=tags  (tag walks)   rmap=pte_chain               vmscan=2.6.6  swapin=2.6.6
  2.6.7   writeback=tags                rmap=anon_vma (object rmap)  vmscan=2.6.7  swapin=2.6.7

(anonmm, Hugh Dickins' per-mm reverse map, is only ever chosen with --rmap; vmscan is the
page-reclaim code, mm/vmscan.c, which 2.6.7 rewrote; 2.6.5 runs 2.6.6's with 2.6.5's own
details. swapin is the release whose do_swap_page runs: with 2.6.6's, a write that cannot
share the swapped-in page faults again; 2.6.7's breaks COW itself.)

--writeback, --rmap, --vmscan and --swapin override those designs. The columns are the
cross product kernels x writeback x rmap x vmscan x swapin, in that order; an omitted switch
keeps each kernel's own design. Without --kernels every profile is compared, or only the scenario's
own profile when a switch is given. Each column's header names its designs and the release
whose code each follows ("*": not the profile's own). So:

  --kernels 2.6.5,2.6.6,2.6.7                 3 columns: the three releases
  --kernels 2.6.7 --rmap pte_chain,anon_vma   2 columns: 2.6.7 with each reverse map
  --rmap pte_chain,anonmm,anon_vma            3 columns on the scenario's kernel
  --kernels 2.6.7 --vmscan 2.6.6,2.6.7        2 columns: 2.6.7 with each release's reclaim
  --kernels 2.6.6 --swapin 2.6.6,2.6.7        2 columns: 2.6.6 with each swap-in fault

Every configuration is checked before anything runs: an unknown name or a design the model
does not implement yet stops the command with one line. Rows of the table:

  struct page x frames   sizeof(struct page) times the machine's frames (mem_map bytes)
  rmap memory, peak      high-water mark of bytes held by reverse-mapping structures
  writeback throughput   bytes written per second of disk busy time
  head travel            sectors the disk arm moved over
  fsync latency, max     the longest fsync/fdatasync/sync call
  fsync honoured ...     after a power cut: were the bytes fsync acknowledged on disk?
  try_to_unmap steps     ptes or vmas visited by reclaim's unmapping walks
  pages scanned          pgscan: inactive pages reclaim looked at
  active scanned         pgrefill: active pages refill_inactive_zone looked at
  reclaim writes         nr_vmscan_write: pages reclaim handed to ->writepage
  simulated time         when the run ended (and why, in "ended")
  expectations           how many of the scenario's expectations held; a race scenario is
                         expected to fail on 2.6.5, and that is a result, not an error

--json FILE writes {"scenario", "seed", "columns": [{"kernel", "writeback", "rmap", "vmscan",
"swapin", "designs", "metrics": {...}}, ...]} with every 'vmlab run' metric of each column.

exit status: 0 every column ran (whatever its expectations gave), 1 a column hit a kernel
BUG, 2 bad input (one line on stderr; nothing was run).

examples:
  vmlab compare cmp-struct-page
  vmlab compare cmp-writeback-order --kernels 2.6.5,2.6.6
  vmlab compare cmp-fork-rmap --kernels 2.6.6,2.6.7 --json fork.json
  vmlab compare cmp-fork-rmap --kernels 2.6.7 --rmap pte_chain,anonmm,anon_vma
  vmlab compare fsync-race-a --kernels 2.6.5,2.6.6 --seed 3
  vmlab compare cmp-reclaim --kernels 2.6.7 --vmscan 2.6.6,2.6.7
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from scenarios.cli.common import CliError, parse_seed
from scenarios.cli.running import open_output
from scenarios.loader import ScenarioError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from scenarios.compare import ColumnResult, Comparison, Configuration
    from scenarios.schema import Scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="a built-in scenario name (cmp-... are made for this) or a .toml "
                             "file")
    parser.add_argument("--kernels", metavar="LIST",
                        help="comma-separated kernel profiles, one column each, e.g. "
                             "2.6.5,2.6.6,2.6.7 (default: all three, or the scenario's own "
                             "when --writeback, --rmap, --vmscan or --swapin is given)")
    parser.add_argument("--writeback", metavar="LIST",
                        help="run each kernel with each of these writeback designs: lists, "
                             "tags (default: each kernel's own)")
    parser.add_argument("--rmap", metavar="LIST",
                        help="run each kernel with each of these reverse maps: pte_chain, "
                             "anonmm, anon_vma (default: each kernel's own)")
    parser.add_argument("--vmscan", metavar="LIST",
                        help="run each kernel with each of these page-reclaim designs: 2.6.6, "
                             "2.6.7 (default: each kernel's own)")
    parser.add_argument("--swapin", metavar="LIST",
                        help="run each kernel with each of these swap-in faults (the release "
                             "whose do_swap_page runs): 2.6.6, 2.6.7 (default: each kernel's "
                             "own; 2.6.5 runs 2.6.6's)")
    parser.add_argument("--seed", metavar="N",
                        help="the seed every column runs with (default: the scenario's)")
    parser.add_argument("--json", metavar="FILE", help="write every column's results to FILE")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing; the exit status tells the outcome")


def _list(text: str | None, option: str) -> list[str] | None:
    from scenarios.compare import split_list

    return None if text is None else split_list(text, option)


def _plan(args: argparse.Namespace) -> tuple[Scenario, list[Configuration], int | None]:
    """Load the scenario, parse the seed and plan and check the columns; raises CliError."""
    from scenarios.compare import CompareError, check_columns, plan_columns
    from scenarios.library import load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    seed = parse_seed(args.seed)
    try:
        columns = plan_columns(scenario, _list(args.kernels, "--kernels"),
                               _list(args.writeback, "--writeback"), _list(args.rmap, "--rmap"),
                               _list(args.vmscan, "--vmscan"), _list(args.swapin, "--swapin"))
        check_columns(columns)
    except CompareError as exc:
        raise CliError(str(exc)) from None
    return scenario, columns, seed


class _ColumnBar:
    """Progress of one column's run: simulated time against the scenario's duration."""

    def __init__(self, bar: Progress, task: TaskID, total: int) -> None:
        self.bar = bar
        self.task = task
        self.total = total

    def __call__(self, now: int, events: int) -> None:
        from scenarios.units import format_duration

        self.bar.update(self.task, completed=min(now, self.total), sim=format_duration(now),
                        events=events)


def _progress(scenario: Scenario, columns: list[Configuration]) -> tuple[Progress,
                                                                        list[_ColumnBar]]:
    """A rich progress display on stderr with one bar per column, not started."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(),
                        TextColumn("{task.fields[sim]} simulated, {task.fields[events]} events"),
                        TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    total = scenario.duration_ns
    bars = [_ColumnBar(progress, progress.add_task(c.label(), total=total, sim="0s", events=0,
                                                   start=False), total)
            for c in columns]
    return progress, bars


def _run_all(scenario: Scenario, columns: list[Configuration], seed: int | None,
             show: bool) -> tuple[Comparison, list[float]]:
    """Run every column (with one progress bar per column when ``show``); returns the
    comparison and each column's wall time in seconds."""
    from scenarios.compare import CompareError, Comparison, run_column

    out = Comparison(scenario, scenario.seed if seed is None else seed)
    walls: list[float] = []
    progress, bars = _progress(scenario, columns) if show else (None, [])
    if progress is not None:
        progress.start()
    try:
        for i, config in enumerate(columns):
            bar = bars[i] if bars else None
            if bar is not None:
                bar.bar.start_task(bar.task)
            start = time.perf_counter()
            try:
                out.columns.append(run_column(scenario, config, out.seed, bar))
            except CompareError as exc:
                raise CliError(str(exc)) from None
            walls.append(time.perf_counter() - start)
            if bar is not None:
                bar.bar.update(bar.task, completed=bar.total)
    finally:
        if progress is not None:
            progress.stop()
    return out, walls


def _header(col: ColumnResult) -> str:
    """The column's label, then one line per design switch with the release it follows."""
    from scenarios.profiles import design_lines

    return "\n".join([col.config.label(), *design_lines(col.config.spec(), brief=True)])


def _cells(cols: Sequence[ColumnResult], metric: str, kind: str) -> list[str]:
    from scenarios.compare import format_value, ratio_text

    first = cols[0].metrics.get(metric, 0)
    cells = []
    for i, col in enumerate(cols):
        value = col.metrics.get(metric, 0)
        text = format_value(kind, value)
        if i > 0:
            text += f"\n[dim]{ratio_text(value, first)}[/]"
        cells.append(text)
    return cells


def _outcome(col: ColumnResult) -> str:
    if col.error is not None:
        return "[red]kernel BUG[/]"
    total = len(col.expectations)
    passed = col.passed()
    colour = "green" if passed == total else "red"
    return f"[{colour}]{passed}/{total} passed[/]"


def _print_table(cmp: Comparison, walls: list[float], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    from scenarios.compare import ROWS, power_cut_text

    console = Console(file=out, highlight=False)
    cols = cmp.columns
    table = Table(title=f"{cmp.scenario.name}, seed {cmp.seed}", title_justify="left",
                  caption=f"under each figure: its ratio to {cols[0].config.label()}; in "
                          f"the headers, each design with the release whose code it follows "
                          f"(* not the profile's own)",
                  caption_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    for col in cols:
        table.add_column(_header(col), justify="right")
    for row in ROWS:
        table.add_row(row.label, *_cells(cols, row.metric, row.kind))
    table.add_row("fsync honoured after power cut", *[power_cut_text(c) for c in cols])
    table.add_row("ended", *[c.end_reason for c in cols])
    table.add_row("expectations", *[_outcome(c) for c in cols])
    table.add_row("state hash", *[c.state_hash[:16] for c in cols])
    table.add_row("wall time", *[f"{w:.2f}s" for w in walls])
    console.print(table)
    failed = [(c, r) for c in cols for r in c.expectations if not r.ok]
    for c in cols:
        if c.error is not None:
            console.print(f"[red]{c.config.label()}[/]: {c.error}")
    for c, r in failed:
        console.print(f"[red]{c.config.label()}: FAIL[/] {r.name}: {r.detail}")


def execute(args: argparse.Namespace) -> int:
    from scenarios.compare import comparison_doc

    scenario, columns, seed = _plan(args)
    json_out = open_output(args.json, "--json")
    try:
        show = not args.quiet and sys.stderr.isatty()
        result, walls = _run_all(scenario, columns, seed, show)
        if json_out is not None:
            json.dump(comparison_doc(result), json_out, indent=2)
            json_out.write("\n")
    finally:
        if json_out is not None:
            json_out.close()
    if not args.quiet:
        _print_table(result, walls, sys.stdout)
    return 1 if any(c.error is not None for c in result.columns) else 0
