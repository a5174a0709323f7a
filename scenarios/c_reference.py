"""Plain C reference loops for ``vmlab bench``: build them with the system C compiler, run them.

The C source (``scenarios/csrc/bench_reference.c``) ships inside the package, so an installed
vmlab measures it too. It is compiled with ``cc -O2`` (or ``gcc``) into a temporary directory
at bench time and removed afterwards. Each loop does the work of one measured loop of
``scenarios.benchmark`` on the same data in the same order; ``vmlab bench`` prints how many
times slower the compiled model is. Both sides are also timed in CPU time of their own
process, and the ratio is taken on those: on a shared machine the short C loops (best of
three) and the model's one long run are preempted differently, which skews a wall-clock ratio.

Invariants: nothing is written outside the temporary directory; a missing compiler, a failed
build or a failed run gives a one-line reason, never an exception.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

#: The C source file inside the ``scenarios`` package.
SOURCE = "csrc/bench_reference.c"


@dataclass(frozen=True)
class CLoop:
    """One C loop: its name in the C program, the workload it mirrors and the result row."""

    name: str
    workload: str
    result: str
    full: int
    quick: int

    def size(self, quick: bool) -> int:
        return self.quick if quick else self.full


def loops() -> tuple[CLoop, ...]:
    """The C loops, sized like the workloads they mirror (``scenarios.benchmark``)."""
    from scenarios.benchmark import RADIX_SIZE, RANDOM_PAGES_SIZE, TLB_HITS_SIZE

    return (
        CLoop("tlb", "tlb", "mmu translate, TLB hit", *TLB_HITS_SIZE),
        CLoop(
            "random-pages",
            "random-pages",
            "mmu translate, random pages over 8 MiB",
            *RANDOM_PAGES_SIZE,
        ),
        CLoop("radix-lookup", "radix", "radix lookup, random", *RADIX_SIZE),
        CLoop("radix-tag_set", "radix", "radix tag_set, random", *RADIX_SIZE),
        CLoop("radix-tag_clear", "radix", "radix tag_clear, random", *RADIX_SIZE),
    )


@dataclass
class CReference:
    """Rates of the C loops by result row (ops/s) and checksums; ``skipped`` says why not.

    ``rates`` are per wall-clock second, ``cpu_rates`` per second of the C process's CPU time.
    """

    rates: dict[str, float] = field(default_factory=dict)
    cpu_rates: dict[str, float] = field(default_factory=dict)
    checksums: dict[str, int] = field(default_factory=dict)
    skipped: str = ""


def find_compiler() -> str | None:
    """The system C compiler (``cc``, else ``gcc``, else ``clang``), or None."""
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def run_c_loops(runs: list[tuple[CLoop, int]]) -> CReference:
    """Compile the C reference and run ``runs`` (loop, N) in one process, in that order.

    Returns:
        The rates keyed by each loop's result row, or ``skipped`` set to a one-line reason.
    """
    out = CReference()
    if not runs:
        return out
    cc = find_compiler()
    if cc is None:
        out.skipped = "no C compiler found (cc, gcc or clang on PATH)"
        return out
    source = resources.files("scenarios").joinpath(SOURCE)
    with tempfile.TemporaryDirectory(prefix="vmlab-cref-") as tmp:
        src = Path(tmp) / "bench_reference.c"
        src.write_bytes(source.read_bytes())
        exe = Path(tmp) / "bench_reference"
        build = subprocess.run(
            [cc, "-O2", "-o", str(exe), str(src)], capture_output=True, text=True, check=False
        )
        if build.returncode != 0:
            out.skipped = f"{Path(cc).name} could not build it: {_first_line(build.stderr)}"
            return out
        argv = [str(exe)]
        for loop, n in runs:
            argv += [loop.name, str(n)]
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        out.skipped = f"the C loops failed: {_first_line(run.stderr)}"
        return out
    by_name = {loop.name: loop for loop, _n in runs}
    for line in run.stdout.splitlines():
        name, rate, checksum, cpu_rate = line.split()
        loop = by_name[name]
        out.rates[loop.result] = float(rate)
        out.cpu_rates[loop.result] = float(cpu_rate)
        out.checksums[loop.result] = int(checksum)
    return out


def reference_for(workloads: list[str], quick: bool) -> CReference:
    """Run the C loops mirroring the selected workloads (all of them if ``workloads`` is empty)."""
    chosen = [lp for lp in loops() if not workloads or lp.workload in workloads]
    return run_c_loops([(lp, lp.size(quick)) for lp in chosen])
