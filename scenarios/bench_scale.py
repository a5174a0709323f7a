"""The ``scale`` workload of ``vmlab bench``: how boot time, speed and host memory grow with
the machine.

For each size (256 MiB, 1 GiB and 4 GiB of RAM; --quick: 256 MiB only) a scenario of tasks
whose anonymous memory together exceeds RAM (two that each touch 60 % of it, or, on 4 GiB,
four of 1.5 GiB, the most one i386 process maps at 0x4000_0000; they go on touching it, so
the machine swaps) is booted and run for a stretch of simulated time
(shorter for the bigger machines, which are still filling their RAM when it ends: the note's
pswpout says how far reclaim got).
Three figures per size: the boot (``Session`` construction: mem_map, the buddy allocator,
the filesystem, the tasks), the events run per second of wall time, and the resident set of
the process after the run (the interpreter and the model's code included).
"""

from __future__ import annotations

import gc
import resource
import time

from scenarios.benchmark import BenchResult

_SCALE_TOML = """
name = "scale-bench"
seed = 17
[machine]
memory = "{ram}MiB"
swap = "{swap}MiB"
disk = "{disk}MiB"
{tasks}
[programs]
hog = [
  "mmap 0x4000_0000 {hog}MiB anon private rw",
  "touch 0x4000_0000 {hog}MiB write",
  "loop 100",
  "  touch 0x4000_0000 {hog}MiB read",
  "  touch 0x4000_0000 {hog}MiB write stride 8KiB",
  "end",
]
"""

#: The largest hog: its mapping from 0x4000_0000 must end below the 3 GiB of i386 user space.
MAX_HOG_MIB = 1536


#: (RAM in MiB, simulated ns to run) per size.
FULL_SIZES: tuple[tuple[int, int], ...] = ((256, 2_000_000_000), (1024, 1_000_000_000),
                                          (4096, 500_000_000))
QUICK_SIZES: tuple[tuple[int, int], ...] = ((256, 1_000_000_000),)


def rss_bytes() -> int:
    """The process's resident set now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def scale_hogs(ram_mib: int) -> tuple[int, int]:
    """(MiB per hog, hogs) for ``ram_mib`` of RAM: hogs of 60 % of it each, two of them, or,
    where that is more than one i386 process can map (``MAX_HOG_MIB``), as many hogs of that
    size as it takes to ask for 120 % of RAM."""
    hog, count = ram_mib * 6 // 10, 2
    if hog > MAX_HOG_MIB:
        hog, count = MAX_HOG_MIB, -(-(ram_mib * 12) // (10 * MAX_HOG_MIB))
    return hog, count


def scale_text(ram_mib: int) -> str:
    """The workload's scenario for ``ram_mib`` of RAM (``scale_hogs``)."""
    hog, count = scale_hogs(ram_mib)
    tasks = "\n".join(f'[[tasks]]\nname = "hog{i}"\nprogram = "hog"' for i in range(1, count + 1))
    return _SCALE_TOML.format(ram=ram_mib, swap=2 * ram_mib, disk=4 * ram_mib, hog=hog,
                              tasks=tasks)


def bench_scale(quick: bool) -> list[BenchResult]:
    """Boot, events/s and RSS at each size (see the module docstring)."""
    return scale_workload(QUICK_SIZES if quick else FULL_SIZES)


def scale_workload(sizes: tuple[tuple[int, int], ...]) -> list[BenchResult]:
    """Two results per (RAM in MiB, simulated ns) of ``sizes``: the boot, and the run of the
    swap storm; ``counters`` hold the boot time, the RSS after boot and after the run, the
    events, pswpout and the simulated time."""
    from scenarios.loader import load_text
    from scenarios.session import Session

    results: list[BenchResult] = []
    for ram, until_ns in sizes:
        gc.collect()
        scenario = load_text(scale_text(ram), "scale-bench")
        label = f"{ram} MiB" if ram < 1024 else f"{ram >> 10} GiB"
        t0 = time.perf_counter()
        session = Session(scenario)
        boot = time.perf_counter() - t0
        rss_boot = rss_bytes()
        t1 = time.perf_counter()
        session.run(until_ns=until_ns)
        secs = time.perf_counter() - t1
        events = session.events
        rss = rss_bytes()
        vm = session.kernel.vmstat
        counters = {"ram_mib": ram, "boot_ns": int(boot * 1e9), "rss_boot": rss_boot,
                    "rss": rss, "events": events, "pswpout": vm.pswpout,
                    "sim_ns": session.sim_time_ns}
        results.append(BenchResult(
            f"scale: boot, {label}", "scale", 1, boot, "boots/s",
            f"{boot:.3f} s; RSS {rss_boot / 2**20:,.0f} MiB after boot", counters))
        hog, count = scale_hogs(ram)
        results.append(BenchResult(
            f"scale: {count} hogs of {hog:,} MiB, {label}", "scale", events, secs, "events/s",
            f"{events:,} events, {session.sim_time_ns / 1e9:.1f} simulated s in {secs:.2f} s; "
            f"pswpout {vm.pswpout:,}; RSS {rss / 2**20:,.0f} MiB", counters))
        del session
    return results
