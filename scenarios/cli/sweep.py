"""Run one scenario across many configurations: every combination of the values given.

A sweep is the cross product of scenario fields (--set), kernel configurations (--kernels
and the design switches, as in 'vmlab compare') and seeds (--seeds). Each combination is one
run of the scenario to its end; each run gives one row: its parameters, seed and kernel
designs, every metric of 'vmlab run --json', the expectations' outcome and the state hash.

--set KEY=V1,V2,... gives a scenario field several values; KEY is its path in the TOML file:

  --set machine.memory=16MiB,32MiB,64MiB     [machine] memory
  --set tunables.dirty_ratio=10,40           [tunables] dirty_ratio
  --set files.0.size=8MiB,16MiB              the first [[files]] entry
  --set "tasks.0.program.1=write data 0 4KiB x 512 random,write data 0 4KiB x 1024 random"
                                             the second op of the first task's program

A value is read as in the file (a number, or text such as 16MiB); each edited scenario is
checked as a file would be, and a bad key or value stops the sweep before anything runs.
Without --kernels the runs use the scenario's own kernel; --seeds 1..8 or --seeds 3,7,9
(default: the scenario's seed).

The runs go to --jobs local processes (default: one per core), or with --ray to Ray: each
run a Ray task, on the cluster at ADDRESS or on a local Ray instance ('pip install
vmlab[ray]'). The rows are the same whichever ran them.

--out FILE keeps the rows: CSV, or Parquet when FILE ends in .parquet. Each row is written
when its run ends; running the same sweep again with the same --out runs only the rows that
are not there yet (so an interrupted sweep resumes, and a sweep can be extended with more
values). A run that fails (an exception, a kernel BUG, --timeout) is a row with outcome
"error" and the reason; the sweep goes on (--retry-failed runs such rows again).

At the end: a summary table grouped by kernel (the mean over seeds of the metrics that
vary, or those named by --show), and with --plot METRIC a plot of METRIC against the first
--set parameter (or --x), one line per kernel. 'vmlab plot FILE' draws one from a file.

exit status: 0 every run finished (whatever its expectations gave), 1 a run failed, 2 bad
input (one line on stderr; nothing was run), 130 interrupted (finished rows are in --out).

examples:
  vmlab sweep writeback-order --kernels 2.6.5,2.6.6 --set machine.memory=32MiB,64MiB
  vmlab sweep cmp-writeback-order --kernels 2.6.5,2.6.6 --set files.0.size=8MiB,16MiB,32MiB \\
      --out travel.csv --plot head_travel_sectors
  vmlab sweep dirty-throttle --set tunables.dirty_ratio=10,20,40 --seeds 1..4 --out thr.csv
  vmlab sweep fork-cow --rmap pte_chain,anonmm,anon_vma --seeds 1..3 --ray
  vmlab sweep cmp-reclaim --kernels 2.6.7 --vmscan 2.6.6,2.6.7 --set machine.memory=32MiB,48MiB
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from scenarios.cli.common import CliError
from scenarios.profiles import DESIGNS

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from scenarios.sweep.plan import Plan
    from scenarios.sweep.spec import RunSpec
    from scenarios.sweep.store import ResultStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="a built-in scenario name or a .toml file")
    parser.add_argument("--kernels", metavar="LIST",
                        help="comma-separated kernel profiles, e.g. 2.6.5,2.6.6 (default: the "
                             "scenario's own kernel)")
    for axis in DESIGNS:
        parser.add_argument(axis.option, metavar="LIST", dest=f"design_{axis.switch}",
                            help=f"run each kernel with each of these: {axis.help} "
                                 f"(default: each kernel's own)")
    parser.add_argument("--set", metavar="KEY=V1,V2,...", action="append", default=[],
                        dest="sets",
                        help="give a scenario field (its TOML path) several values; repeat "
                             "for more fields (the runs are every combination)")
    parser.add_argument("--seeds", metavar="N..M|A,B,C",
                        help="run every configuration with each seed: 1..8 or 3,7,9 "
                             "(default: the scenario's seed)")
    parser.add_argument("--out", metavar="FILE",
                        help="write one row per run to FILE (.csv, or .parquet); rows already "
                             "in FILE are not run again")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run again the rows of --out FILE whose run failed (outcome "
                             "error), replacing them")
    parser.add_argument("--jobs", metavar="N", type=int,
                        help="local worker processes (default: one per core); with --ray on "
                             "a local instance, its CPUs")
    parser.add_argument("--ray", metavar="ADDRESS", nargs="?", const="",
                        help="run each configuration as a Ray task: on the cluster at "
                             "ADDRESS (ray://host:10001, or auto), or on a local Ray instance "
                             "when no address is given")
    parser.add_argument("--timeout", metavar="SECONDS", type=float,
                        help="stop a run after this much wall time and record it as failed "
                             "(default: no limit)")
    parser.add_argument("--plot", metavar="METRIC",
                        help="after the summary, plot METRIC against the first --set "
                             "parameter (or --x), one line per kernel")
    parser.add_argument("--x", metavar="PARAM", help="what --plot draws METRIC against")
    parser.add_argument("--log", action="store_true", help="--plot on a logarithmic y axis")
    parser.add_argument("--show", metavar="METRICS",
                        help="comma-separated metrics for the summary (default: --plot's "
                             "metric and those that vary)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing; the exit status tells the outcome")


def _plan(args: argparse.Namespace) -> Plan:
    """Parse and check everything; raises CliError (nothing has run)."""
    from scenarios.compare import CompareError, split_list
    from scenarios.library import scenario_text
    from scenarios.loader import ScenarioError
    from scenarios.sweep.params import SweepError, parse_seeds, parse_set
    from scenarios.sweep.plan import plan_sweep

    try:
        kernels = split_list(args.kernels, "--kernels") if args.kernels is not None else None
        designs = {d.switch: split_list(v, d.option)
                   if (v := getattr(args, f"design_{d.switch}")) is not None else None
                   for d in DESIGNS}
        sets = [parse_set(text) for text in args.sets]
        seeds = parse_seeds(args.seeds) if args.seeds is not None else None
        if args.jobs is not None and args.jobs < 1:
            raise SweepError(f"--jobs: {args.jobs} is not a number of processes (1 or more)")
        if args.timeout is not None and not args.timeout > 0:
            raise SweepError(f"--timeout: {args.timeout:g} is not a positive number of seconds")
        text = scenario_text(args.scenario)
        return plan_sweep(text, kernels, designs, sets, seeds, args.timeout)
    except (CompareError, SweepError, ScenarioError) as exc:
        raise CliError(str(exc)) from None


def _plot_axis(args: argparse.Namespace, plan: Plan) -> str | None:
    if args.plot is None:
        return None
    if args.x is not None:
        return str(args.x)
    if plan.sets:
        return plan.sets[0].key
    if len(plan.seeds) > 1:
        return "seed"
    raise CliError("--plot needs something to draw against: a --set parameter, several "
                   "--seeds, or --x COLUMN")


class _Tally:
    """Rows as they arrive: into the file, into the plan's slots, onto the progress bar."""

    def __init__(self, plan: Plan, store: ResultStore | None, total: int) -> None:
        self.rows: list[dict[str, object] | None] = [None] * len(plan.runs)
        self.store = store
        self.total = total
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.done = 0
        self.failed = 0

    def __call__(self, spec: RunSpec, row: dict[str, object]) -> None:
        from scenarios.sweep.rows import OUTCOME_ERROR

        self.rows[spec.index] = row
        if self.store is not None:
            self.store.append(row)
        self.done += 1
        if row.get("outcome") == OUTCOME_ERROR:
            self.failed += 1
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, done=self.done, failed=self.failed,
                            left=self.total - self.done)


def _progress() -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.fields[done]} done, {task.fields[failed]} failed, "
                               "{task.fields[left]} left"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                    transient=True, refresh_per_second=4)


def _execute_runs(args: argparse.Namespace, plan: Plan, todo: Sequence[RunSpec],
                  store: ResultStore | None, show: bool) -> _Tally:
    from scenarios.sweep.backends import default_jobs, describe_backend, run_local, run_ray
    from scenarios.sweep.params import SweepError

    jobs = args.jobs if args.jobs is not None else default_jobs()
    use_ray = args.ray is not None
    address = args.ray or None
    tally = _Tally(plan, store, len(todo))
    if show and todo:
        tally.bar = _progress()
        where = describe_backend(use_ray, address, jobs)
        tally.task = tally.bar.add_task(f"{plan.scenario.name} on {where}", total=len(todo),
                                        done=0, failed=0, left=len(todo))
        tally.bar.start()
    try:
        if use_ray:
            run_ray(todo, address, args.jobs, tally)
        else:
            run_local(todo, jobs, tally)
    except SweepError as exc:
        raise CliError(str(exc)) from None
    finally:
        if tally.bar is not None:
            tally.bar.stop()
    return tally


def execute(args: argparse.Namespace) -> int:
    from rich.console import Console

    from scenarios.sweep.backends import ray_connection
    from scenarios.sweep.params import SweepError
    from scenarios.sweep.report import pick_metrics, plot_text, summary_table
    from scenarios.sweep.rows import OUTCOME_ERROR
    from scenarios.sweep.store import ResultStore

    plan = _plan(args)
    cols = plan.columns
    x = _plot_axis(args, plan)
    try:
        wanted = [args.plot] if args.plot is not None else []
        if args.show is not None:
            wanted += [m.strip() for m in args.show.split(",") if m.strip() not in wanted]
        pick_metrics([], cols, wanted)  # names checked before anything runs
    except SweepError as exc:
        raise CliError(str(exc)) from None
    store = ResultStore(args.out, cols) if args.out is not None else None
    before: list[dict[str, object]] = []
    if store is not None:
        try:
            _, before = store.existing()
        except SweepError as exc:
            raise CliError(str(exc)) from None
    known = {cols.row_key(r): r for r in before
             if not (args.retry_failed and r.get("outcome") == OUTCOME_ERROR)}
    todo = [s for s in plan.runs if cols.row_key(s.head()) not in known]
    show = not args.quiet and sys.stderr.isatty()
    start = time.perf_counter()
    with ExitStack() as stack:
        if args.ray is not None and todo:  # reach Ray before the file is touched
            try:
                stack.enter_context(ray_connection(args.ray or None, args.jobs))
            except SweepError as exc:
                raise CliError(str(exc)) from None
        if store is not None:
            try:
                store.start(before)
            except SweepError as exc:
                raise CliError(str(exc)) from None
        try:
            tally = _execute_runs(args, plan, todo, store, show)
        except BaseException:
            if store is not None:
                store.close()
            raise
    wall = time.perf_counter() - start
    rows: list[dict[str, object]] = []
    for spec, row in zip(plan.runs, tally.rows, strict=True):
        rows.append(row if row is not None else known[cols.row_key(spec.head())])
    if store is not None:
        mine = {cols.row_key(r) for r in rows}
        store.finish(rows + [r for r in before if cols.row_key(r) not in mine])
    failed = sum(1 for r in rows if r.get("outcome") == OUTCOME_ERROR)
    if args.quiet:
        return 1 if failed else 0
    console = Console(highlight=False)
    reused = len(plan.runs) - len(todo)
    where = f" ({reused} already in {args.out})" if reused else ""
    console.print(f"{len(plan.runs)} runs{where}: {len(todo)} ran in {wall:.1f}s, "
                  f"{failed} failed", soft_wrap=True)
    metrics = pick_metrics(rows, cols, wanted)
    console.print(summary_table(rows, cols, metrics, f"{plan.scenario.name}: mean over "
                                f"{len(plan.seeds)} seed{'s' if len(plan.seeds) != 1 else ''}"))
    for r in rows:
        if r.get("outcome") == OUTCOME_ERROR:
            params = " ".join(f"{p}={r.get(p)}" for p in cols.params)
            console.print(f"[red]failed[/]: {params} seed {r.get('seed')} on "
                          f"{r.get('kernel')}: {r.get('error')}", soft_wrap=True)
    if x is not None and args.plot is not None:
        try:
            width = min(console.width, 100)
            print(plot_text(rows, cols, x, args.plot, log_y=args.log, width=width,
                            color=sys.stdout.isatty()))
        except SweepError as exc:
            raise CliError(str(exc)) from None
    return 1 if failed else 0
