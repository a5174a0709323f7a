"""The ``steps`` workload of ``vmlab bench``: how long the model runs before the dashboard
gets control back, on a 1 GiB machine in a swap storm.

The dashboard runs the model in frames (tui/driver.py): inside an event, control can come
back only at the model's pause points (``kernelmodel.kernel.task.vl_host_pause``: reclaim's
page loops, page faults, kernel-op steps) and at event ends. A *model step* here is the
stretch of wall time between two such moments: the longest one is the longest a frame can
overrun its budget, so it bounds the dashboard's input latency. The workload runs the storm
with a ``pause`` that never pauses but notes the time at every point it is asked, and
reports:

* the longest model step, and what ran in it (the event's task and its counters);
* the 99th percentile, over events, of each event's longest step;
* for comparison, the whole events: what one model call was before events could pause
  (longest and 99th percentile).

Each figure is given in wall time and in the CPU time of the process (a loaded machine
stretches wall time with other processes' turns). The CPU time is read only when half a
millisecond of wall time has passed since the last reading (a reading costs microseconds),
so a step's CPU time is an upper bound within that half millisecond.

Two machines of tasks whose anonymous memory exceeds RAM (--quick: 256 MiB, two hogs of
160 MiB, 5 simulated s; full: 1 GiB, two hogs of 640 MiB, 40 simulated s, which covers the
direct reclaim that refills the whole active list once the hogs first fill RAM, and kswapd's
long balance_pgdat runs later on).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from scenarios.benchmark import BenchResult

_STORM_TOML = """
name = "steps-bench"
seed = 17
duration = "600s"
[machine]
memory = "{ram}MiB"
swap = "{swap}MiB"
disk = "{disk}MiB"
[[tasks]]
name = "hog1"
program = "hog"
[[tasks]]
name = "hog2"
program = "hog"
[programs]
hog = [
  "mmap 0x4000_0000 {hog}MiB anon private rw",
  "touch 0x4000_0000 {hog}MiB write",
  "sleep 50ms",
  "loop 1000000",
  "  touch 0x4000_0000 {hog}MiB read",
  "  touch 0x4000_0000 {hog}MiB write stride 8KiB",
  "end",
]
"""

#: (RAM in MiB, simulated ns to run).
FULL_SIZE: tuple[int, int] = (1024, 40_000_000_000)
QUICK_SIZE: tuple[int, int] = (256, 5_000_000_000)

#: The counters whose change during the longest event says what it was.
_WHAT: tuple[str, ...] = ("pgfault", "pgmajfault", "pgrefill", "pgscan", "pgsteal",
                          "pswpout", "pswpin", "allocstall", "pageoutrun")


def storm_text(ram_mib: int) -> str:
    """Two hogs of 5/8 of RAM each, touching it in a loop (swap twice RAM)."""
    return _STORM_TOML.format(ram=ram_mib, swap=2 * ram_mib, disk=4 * ram_mib,
                              hog=ram_mib * 5 // 8)


#: Wall seconds between two readings of the CPU clock, at least.
CPU_READ_S = 0.0005


@dataclass
class StepStats:
    """Model steps of one run: the longest, per event the longest, the events' lengths,
    in wall seconds and (``_cpu``) CPU seconds."""

    longest: float = 0.0
    longest_event: int = 0
    longest_cpu: float = 0.0
    longest_cpu_event: int = 0
    #: Each event's longest step (seconds), in event order.
    event_longest: list[float] = field(default_factory=list)
    event_longest_cpu: list[float] = field(default_factory=list)
    #: Each event's whole time (seconds).
    event_whole: list[float] = field(default_factory=list)
    event_whole_cpu: list[float] = field(default_factory=list)
    steps: int = 0


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure_steps(text: str, until_ns: int) -> tuple[StepStats, dict[str, int], str, float]:
    """Run the scenario ``text`` to ``until_ns``, one ``Session.run`` call per event with a
    noting ``pause``, the collector off as in the dashboard (young generations collected
    between events).

    Returns:
        The steps, the counters' change during the event holding the longest step, that
        event's task (and what its kernel stack was doing), and the wall time of the run.
    """
    from scenarios.loader import load_text
    from scenarios.session import Session

    session = Session(load_text(text, "steps-bench"))
    k = session.kernel
    stats = StepStats()
    clock = time.perf_counter
    cpu = time.thread_time
    last = [0.0]
    event_max = [0.0, 0.0]
    #: The last CPU reading and the wall time it was taken at.
    cpu_mark = [0.0, 0.0]

    def note() -> bool:
        now = clock()
        gap = now - last[0]
        last[0] = now
        stats.steps += 1
        if gap > event_max[0]:
            event_max[0] = gap
        if now - cpu_mark[1] >= CPU_READ_S:
            c = cpu()
            event_max[1] = max(event_max[1], c - cpu_mark[0])
            cpu_mark[0], cpu_mark[1] = c, now
        return False

    what: dict[str, int] = {}
    who = ""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    t_run = clock()
    try:
        while True:
            before = {name: getattr(k.vmstat, name) for name in _WHAT}
            task = k.tasks.get(k.runqueue[0]) if k.runqueue else None
            event_max[0] = event_max[1] = 0.0
            ran_before = session.events
            c0 = cpu_mark[0] = cpu()
            t0 = last[0] = cpu_mark[1] = clock()
            reason = session.run(until_events=ran_before + 1, until_ns=until_ns, pause=note)
            end, c_end = clock(), cpu()
            if session.events == ran_before:
                break
            gap = max(event_max[0], end - last[0])
            stats.event_longest.append(gap)
            stats.event_whole.append(end - t0)
            gap_cpu = max(event_max[1], c_end - cpu_mark[0])
            stats.event_longest_cpu.append(gap_cpu)
            stats.event_whole_cpu.append(c_end - c0)
            if gap_cpu > stats.longest_cpu:
                stats.longest_cpu = gap_cpu
                stats.longest_cpu_event = session.events
            if gap > stats.longest:
                stats.longest = gap
                stats.longest_event = session.events
                what = {n: getattr(k.vmstat, n) - v for n, v in before.items()
                        if getattr(k.vmstat, n) != v}
                who = "an interrupt or timer"
                if task is not None:
                    doing = task.kstack[-1].describe() if task.kstack else "user program"
                    who = f"{task.name} ({doing})"
            gc.collect(1)
            if reason != "events":
                break
    finally:
        if was_enabled:
            gc.enable()
    return stats, what, who, clock() - t_run


def bench_steps(quick: bool) -> list[BenchResult]:
    """The workload (module docstring): one result, model steps per second of the run."""
    ram, until_ns = QUICK_SIZE if quick else FULL_SIZE
    stats, what, who, secs = measure_steps(storm_text(ram), until_ns)
    label = f"{ram} MiB" if ram < 1024 else f"{ram >> 10} GiB"
    events = len(stats.event_whole)
    ms = 1e3
    p99_step = _percentile(stats.event_longest, 0.99)
    p99_step_cpu = _percentile(stats.event_longest_cpu, 0.99)
    whole = max(stats.event_whole, default=0.0)
    whole_cpu = max(stats.event_whole_cpu, default=0.0)
    p99_whole = _percentile(stats.event_whole, 0.99)
    p99_whole_cpu = _percentile(stats.event_whole_cpu, 0.99)
    counters = {
        "ram_mib": ram, "events": events, "steps": stats.steps,
        "longest_step_us": int(stats.longest * 1e6),
        "longest_step_cpu_us": int(stats.longest_cpu * 1e6),
        "p99_event_longest_step_us": int(p99_step * 1e6),
        "p99_event_longest_step_cpu_us": int(p99_step_cpu * 1e6),
        "longest_event_us": int(whole * 1e6),
        "longest_event_cpu_us": int(whole_cpu * 1e6),
        "p99_event_us": int(p99_whole * 1e6),
        "p99_event_cpu_us": int(p99_whole_cpu * 1e6),
        "steps_over_10ms_cpu": sum(1 for g in stats.event_longest_cpu if g > 0.010),
        "events_over_10ms_cpu": sum(1 for g in stats.event_whole_cpu if g > 0.010),
    }
    doing = ", ".join(f"{n} {v:,}" for n, v in what.items()) or "no counter moved"
    note = (f"longest model step {stats.longest * ms:.1f} ms wall, "
            f"{stats.longest_cpu * ms:.1f} ms CPU (event {stats.longest_cpu_event:,}; "
            f"longest by wall: event "
            f"{stats.longest_event:,}, {who}; {doing}); 99th percentile of the events' "
            f"longest step {p99_step * ms:.1f} ms wall, {p99_step_cpu * ms:.1f} ms CPU; "
            f"whole events (one call before events could pause): longest {whole * ms:.1f} ms "
            f"wall, {whole_cpu * ms:.1f} ms CPU, 99th percentile {p99_whole * ms:.1f} ms "
            f"wall, {p99_whole_cpu * ms:.1f} ms CPU; {events:,} events")
    return [BenchResult(f"steps: swap storm, {label}", "steps", stats.steps, secs,
                        "steps/s", note, counters)]
