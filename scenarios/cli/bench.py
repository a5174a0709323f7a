"""Measure the simulator's speed: compiled (mypyc) and pure Python side by side.

Each workload runs in two child processes, one on the compiled modules and one on the Python
sources, and the table shows both rates and their ratio. The TLB-hit loop is also compared
with a plain C loop doing the same work, compiled on the spot when a C compiler is present.
Wall-clock figures on a shared machine vary by about 20 %: compare ratios within one run.

Kernel workloads: ``writeback`` (dirty a file at random, sync), ``faults`` (anonymous and COW
faults), ``reclaim`` (anonymous pressure: pages reclaimed per second, with pgscan, pgsteal,
pswpout and simulated time in its note) and ``unmap-scaling`` (try_to_unmap steps per call
as 1, 10, 100 and 1000 forks share one anon_vma; --quick stops at 100). ``snapshot``: saving
and loading a snapshot of a 256 MiB machine after a swap storm (--quick: 64 MiB), with the
fastest save and load, and the file size, in its notes. ``scale``: boot time, events/s
and resident memory of a swapping machine of 256 MiB, 1 GiB and 4 GiB (--quick: 256 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scenarios.benchmark import WORKLOADS
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
            "save and load of a 256 MiB machine after a swap storm; scale: boot time, events/s "
            "and RSS at 256 MiB, 1 GiB and 4 GiB of RAM"
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


def _c_reference(console: Console) -> float | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    src = Path(__file__).resolve().parents[2] / "benchmarks" / "c_reference" / "tlb_hit.c"
    if cc is None or not src.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp, console.status("measuring the C reference ..."):
        exe = Path(tmp) / "tlb_hit"
        build = subprocess.run(
            [cc, "-O2", "-o", str(exe), str(src)], capture_output=True, check=False
        )
        if build.returncode != 0:
            return None
        run = subprocess.run([str(exe)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            return None
        return float(run.stdout.split()[0])


def _rate(rec: dict[str, object]) -> float:
    ops, secs = rec["ops"], rec["seconds"]
    assert isinstance(ops, int) and isinstance(secs, float)
    return ops / secs if secs > 0 else 0.0


def _fmt(rate: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= div:
            return f"{rate / div:.2f} {suffix}"
    return f"{rate:.2f}" if rate < 100 else f"{rate:.0f}"


def execute(args: argparse.Namespace) -> int:
    unknown = [s for s in args.only.split(",") if s and s not in WORKLOADS]
    if unknown:
        raise CliError(f"unknown workload {unknown[0]!r} (expected one of: {', '.join(WORKLOADS)})")
    console = Console(stderr=True)
    flavours = ["compiled", "interpreted"] if args.flavour == "both" else [args.flavour]
    results = {f: _run_flavour(f, args.quick, args.only, console) for f in flavours}
    cref = (
        _c_reference(console)
        if "compiled" in results and (not args.only or "tlb" in args.only)
        else None
    )

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
    for rec in results[flavours[0]]:
        if rec.get("note"):
            Console().print(f"{rec['name']}: {rec['note']}")
    if cref is not None:
        tlb = next((r for r in results["compiled"] if "TLB hit" in str(r["name"])), None)
        if tlb is not None:
            Console().print(
                f"C reference, TLB-hit loop: {_fmt(cref)} translations/s; "
                f"compiled vmlab is {cref / _rate(tlb):.1f}x slower"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"results": results, "c_reference_tlb": cref}, indent=2)
        )
    return 0
