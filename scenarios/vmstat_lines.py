"""vmstat(8)-style lines as a run goes (``vmlab run --vmstat INTERVAL``).

One line per INTERVAL of simulated time, fed by the session like its series
(``Session.add_sampler``): the state at each multiple of INTERVAL. The columns are
vmstat(8)'s for Linux 2.6, from the model, plus the two writeback gauges this machine is
about and the simulated time (as ``vmstat -t`` adds a timestamp):

    r b        tasks runnable, and in uninterruptible sleep (D: waiting on I/O or a page)
    swpd free buff cache   kB: swap used, MemFree, Buffers, Cached (as /proc/meminfo)
    si so      kB/s swapped in and out over the interval (pswpin, pswpout x 4)
    bi bo      blocks (kB)/s read and written over the interval (pgpgin, pgpgout)
    dirty wb   kB now: Dirty and Writeback of /proc/meminfo
    time       the simulated time of the line

Rates are per simulated second. The first line's rates are over the time since boot, as
vmstat's first line is. When the run ends between two multiples, a last line shows the
state it ended in, at its own time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, TextIO

from scenarios.series import first_sample_at
from scenarios.units import format_duration

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

HEADER: Final = (
    "procs -----------memory---------- ---swap-- -----io---- --writeback--\n"
    " r  b   swpd   free   buff  cache   si   so    bi    bo   dirty     wb  time\n"
)


def _tasks_in(k: Kernel) -> tuple[int, int]:
    """(runnable, uninterruptible) tasks, kernel threads included (as nr_running)."""
    from kernelmodel.kernel.task import TASK_RUNNING, TASK_UNINTERRUPTIBLE

    r = b = 0
    for t in k.tasks.values():
        if t.state == TASK_RUNNING:
            r += 1
        elif t.state == TASK_UNINTERRUPTIBLE:
            b += 1
    return r, b


class VmstatLines:
    """A sampler that writes a vmstat line at each multiple of ``interval_ns``."""

    def __init__(self, k: Kernel, interval_ns: int, out: TextIO, start_ns: int = 0) -> None:
        self.k = k
        self.interval_ns = interval_ns
        self.out = out
        self.next_ns = first_sample_at(start_ns, interval_ns)
        #: (time, pswpin, pswpout, pgpgin, pgpgout) of the last line; boot before the first.
        self._last = (0, 0, 0, 0, 0)
        out.write(HEADER)

    def take(self, values: Mapping[str, int], upto_ns: int) -> None:
        """Print the lines of every multiple of the interval up to ``upto_ns`` (the state is
        the same at all of them)."""
        while self.next_ns <= upto_ns:
            self._line(values, self.next_ns)
            self.next_ns += self.interval_ns
        self.out.flush()

    def finish(self, values: Mapping[str, int], now_ns: int) -> None:
        """At the end of the run, a last line for the state it ended in, unless a line of
        that time was printed already (a run shorter than the interval shows its end)."""
        if now_ns > self._last[0]:
            self._line(values, now_ns)
            self.out.flush()

    def _line(self, v: Mapping[str, int], t: int) -> None:
        now = (t, v["pswpin"], v["pswpout"], v["pgpgin"], v["pgpgout"])
        span = max(1, now[0] - self._last[0])
        si, so, bi, bo = (int((a - b) * (4 if i < 2 else 1) * 1_000_000_000 / span)
                          for i, (a, b) in enumerate(zip(now[1:], self._last[1:], strict=True)))
        self._last = now
        r, b = _tasks_in(self.k)
        swpd = v["swap_used_pages"] * 4
        free = v["nr_free_pages"] * 4
        cache = v["nr_pagecache"] * 4
        self.out.write(f"{r:2} {b:2} {swpd:6} {free:6} {0:6} {cache:6} {si:4} {so:4} "
                       f"{bi:5} {bo:5} {v['nr_dirty'] * 4:7} {v['nr_writeback'] * 4:6}  "
                       f"{format_duration(t)}\n")
