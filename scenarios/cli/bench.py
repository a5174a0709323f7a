"""Measure the simulator's speed: compiled (mypyc) and pure Python side by side.

Each workload runs in two child processes, one on the compiled modules and one on the Python
sources, and the table shows both rates and their ratio. The MMU loops (TLB hit, random-page
translation) and the radix tree's random lookup, tag_set and tag_clear are also compared with
plain C loops doing the same work, compiled on the spot with the system C compiler (one line
says so when there is none). That ratio is taken on the CPU time of each side's process (the
wall-clock ratio follows in brackets): the C loops last milliseconds, the model's seconds, and
a busy machine preempts the two differently.
Wall-clock figures on a shared machine vary by about 20 %: compare ratios within one run.

Kernel workloads: ``writeback`` (dirty a file at random, sync), ``faults`` (anonymous and COW
faults), ``reclaim`` (anonymous pressure: pages reclaimed per second, with pgscan, pgsteal,
pswpout and simulated time in its note) and ``unmap-scaling`` (try_to_unmap steps per call
as 1, 10, 100 and 1000 forks share one anon_vma; --quick stops at 100). ``snapshot``: saving
and loading a snapshot of a 256 MiB machine after a swap storm (--quick: 64 MiB), with the
fastest save and load, and the file size, in its notes. ``seek``: seeking back and forth in
a swap storm on 256 MiB (--quick: 64 MiB) from in-memory checkpoints, with the slowest seek
and the checkpoints' memory in its note.
``scale``: boot time, events/s and resident memory of a swapping machine of 256 MiB,
1 GiB and 4 GiB (--quick: 256 MiB). ``steps``: the longest model step of a swap storm on
1 GiB (--quick: 256 MiB), the longest the dashboard can wait for the model to hand control
back (pause points inside events; the whole events' lengths beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scenarios.benchmark import WORKLOADS
from scenarios.c_reference import CReference, reference_for
from scenarios.cli.common import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 10x faster)")
    parser.add_argument(
        "--only",
        default="",
        metavar="NAMES",
        help=(
            f"comma-separated workloads to run (of: {', '.join(WORKLOADS)}); reclaim: "
            "pages reclaimed per second under anonymous pressure; unmap-scaling: "
            "try_to_unmap steps per call with 1..1000 forks sharing an anon_vma; snapshot: "
            "save and load of a 256 MiB machine after a swap storm; seek: seeks in a swap storm "
            "on 256 MiB, and the checkpoints' memory; scale: boot time, events/s and RSS at "
            "256 MiB, 1 GiB and 4 GiB of RAM; steps: the longest model step (the longest "
            "the dashboard waits for the model) in a swap storm on 1 GiB"
        ),
    )
    parser.add_argument(
        "--flavour",
        choices=("both", "compiled", "interpreted"),
        default="both",
        help="which build to measure (default: both, side by side)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def _run_flavour(flavour: str, quick: bool, only: str, console: Console) -> list[dict[str, object]]:
    env = dict(os.environ)
    env.pop("VMLAB_INTERPRETED", None)
    if flavour == "interpreted":
        env["VMLAB_INTERPRETED"] = "1"
    cmd = [sys.executable, "-m", "scenarios.benchmark"]
    if quick:
        cmd.append("--quick")
    if only:
        cmd += ["--only", only]
    out: list[dict[str, object]] = []
    with console.status(f"measuring the {flavour} build ..."):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CliError(f"the {flavour} benchmark process failed: {last}")
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("flavour") != flavour:
            raise CliError(f"asked for the {flavour} build but measured {rec.get('flavour')}")
        out.append(rec)
    return out


def _c_reference(only: str, quick: bool, console: Console) -> CReference:
    workloads = [w for w in only.split(",") if w]
    with console.status("measuring the plain C reference loops ..."):
        return reference_for(workloads, quick)


def _rate(rec: dict[str, object]) -> float:
    ops, secs = rec["ops"], rec["seconds"]
    assert isinstance(ops, int) and isinstance(secs, float)
    return ops / secs if secs > 0 else 0.0


def _cpu_rate(rec: dict[str, object]) -> float:
    ops, cpu = rec["ops"], rec.get("cpu_seconds", 0.0)
    assert isinstance(ops, int) and isinstance(cpu, float)
    return ops / cpu if cpu > 0 else 0.0


def _fmt(rate: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= div:
            return f"{rate / div:.2f} {suffix}"
    return f"{rate:.2f}" if rate < 100 else f"{rate:.0f}"


def _print_c_ratios(
    cref: CReference, compiled: list[dict[str, object]], console: Console
) -> None:
    """One line per C loop: its rate and how many times slower the compiled model is.

    With CPU times on both sides the line gives the C loop's CPU rate and the ratio of CPU
    rates, then the wall-clock ratio in brackets; otherwise the wall-clock rate and ratio.
    """
    if cref.skipped:
        console.print(f"C reference skipped: {cref.skipped}")
        return
    by_name = {str(r["name"]): r for r in compiled}
    for name, rate in cref.rates.items():
        rec = by_name.get(name)
        if rec is None or _rate(rec) <= 0:
            continue
        unit = str(rec["unit"]).removesuffix("/s")
        wall = f"{rate / _rate(rec):.1f}x"
        cpu_c, cpu_model = cref.cpu_rates.get(name, 0.0), _cpu_rate(rec)
        if cpu_c > 0 and cpu_model > 0:
            line = (
                f"C reference, {name}: {_fmt(cpu_c)} {unit}/s in CPU time; compiled vmlab "
                f"is {cpu_c / cpu_model:.1f}x slower in CPU time ({wall} by wall clock)"
            )
        else:
            line = f"C reference, {name}: {_fmt(rate)} {unit}/s; compiled vmlab is {wall} slower"
        Console().print(line, soft_wrap=True)


def execute(args: argparse.Namespace) -> int:
    unknown = [s for s in args.only.split(",") if s and s not in WORKLOADS]
    if unknown:
        raise CliError(f"unknown workload {unknown[0]!r} (expected one of: {', '.join(WORKLOADS)})")
    console = Console(stderr=True)
    flavours = ["compiled", "interpreted"] if args.flavour == "both" else [args.flavour]
    results = {f: _run_flavour(f, args.quick, args.only, console) for f in flavours}
    cref = _c_reference(args.only, args.quick, console) if "compiled" in results else None

    table = Table(title="vmlab bench" + (" (quick)" if args.quick else ""))
    table.add_column("workload")
    table.add_column("unit")
    for f in flavours:
        table.add_column(f, justify="right")
    if len(flavours) == 2:
        table.add_column("compiled / pure", justify="right")
    names = [r["name"] for r in results[flavours[0]]]
    for i, name in enumerate(names):
        recs = [results[f][i] for f in flavours]
        row = [str(name), str(recs[0]["unit"])] + [_fmt(_rate(r)) for r in recs]
        if len(flavours) == 2:
            pure = _rate(recs[1])
            row.append(f"{_rate(recs[0]) / pure:.1f}x" if pure > 0 else "-")
        table.add_row(*row)
    Console().print(table)
    for f in flavours:
        # the compiled notes, then the pure ones (where both ran) marked as such
        mark = f" ({f})" if f != flavours[0] else ""
        for rec in results[f]:
            if rec.get("note"):
                Console().print(f"{rec['name']}{mark}: {rec['note']}")
    if cref is not None:
        _print_c_ratios(cref, results["compiled"], console)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "results": results,
                    "c_reference": cref.rates if cref is not None else {},
                    "c_reference_cpu": cref.cpu_rates if cref is not None else {},
                    "c_reference_tlb": (
                        cref.rates.get("mmu translate, TLB hit") if cref is not None else None
                    ),
                },
                indent=2,
            )
        )
    return 0
