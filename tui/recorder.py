"""What the dashboard remembers of the run: counter samples, vmstat intervals, trace events.

The model keeps counters and a bounded trace ring (its memory must not grow with the run);
plots over simulated time and per-interval deltas need history, which is kept here, outside the
model. Samples are taken at fixed steps of simulated time, checked after every event
(``after_event``), so the history is the same however the UI sliced the run: a step of 1 or a
slice of 10,000 events give the same plots. Trace records are read after each slice
(``drain``).

Nothing here changes the model or imports Textual.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from kernelmodel.kernel.kernel import Kernel
from scenarios.series import CounterSeries
from tui.view_io import BlockOwners, EventRec, resolve_event

#: The plotted series, in display order.
SERIES: Final = ("free", "dirty", "writeback", "swap used")

#: Samples kept per series (a whole default run is about 1,000).
MAX_SAMPLES: Final = 4096
#: Trace events kept for the event log.
MAX_EVENTS: Final = 20_000
#: Completed disk requests kept for the sector/time plot.
MAX_DISK_OPS: Final = 4096
#: How many vmstat intervals a run is cut into (at least 1 ms each).
VMSTAT_INTERVALS: Final = 20


def sample_interval(duration_ns: int) -> int:
    """Plot sampling step: a thousandth of the scenario's duration, at least 1 ms."""
    return max(1_000_000, duration_ns // 1000)


def vmstat_interval(duration_ns: int) -> int:
    """vmstat interval: a twentieth of the duration rounded down to 1/10/100 ms or 1 s."""
    raw = max(1_000_000, duration_ns // VMSTAT_INTERVALS)
    step = 1_000_000
    while step * 10 <= raw and step < 1_000_000_000:
        step *= 10
    return step


class Recorder:
    """History of one session's counters and events (reset when the session changes)."""

    def __init__(self, k: Kernel, duration_ns: int, trace_from: int = 0,
                 sampled: CounterSeries | None = None) -> None:
        """Start recording now.

        Args:
            k: the kernel to read.
            duration_ns: the scenario's duration (sets the sampling steps).
            trace_from: first trace sequence number to read.
            sampled: the session's counters over time (the Stats tab plots them).
        """
        self.k = k
        self.sampled = sampled
        self.sample_ns = sample_interval(duration_ns)
        self.interval_ns = vmstat_interval(duration_ns)
        #: Sample times (simulated ns) and one deque per series.
        self.times: deque[int] = deque(maxlen=MAX_SAMPLES)
        self.series: dict[str, deque[int]] = {n: deque(maxlen=MAX_SAMPLES) for n in SERIES}
        now = k.machine.clock.now
        self.next_sample_ns = now - now % self.sample_ns
        #: Counters at the last two vmstat interval boundaries.
        self.vm_prev: dict[str, int] = {}
        self.vm_last: dict[str, int] = k.metrics()
        self.vm_last_ns = now
        self.next_interval_ns = now - now % self.interval_ns + self.interval_ns
        self.trace_seq = trace_from
        self.events: deque[EventRec] = deque(maxlen=MAX_EVENTS)
        #: Trace records that fell out of the model's ring before they were read.
        self.dropped = 0
        #: Completed requests: (time, sector, nsect, write).
        self.disk_ops: deque[tuple[int, int, int, bool]] = deque(maxlen=MAX_DISK_OPS)
        self._owners = BlockOwners()
        self.after_event()
        self.drain()

    def rewind(self, k: Kernel) -> None:
        """Follow the session to ``k``, a kernel restored at an earlier moment (going back):
        keep the samples, trace records and disk requests from before that moment, drop
        the rest, and go on from there. The session's own series (``sampled``) was cut at
        the same moment by the session. The interval table starts a new interval."""
        self.k = k
        now = k.machine.clock.now
        seq = k.trace.next_seq
        while self.times and self.times[-1] > now:
            self.times.pop()
            for column in self.series.values():
                column.pop()
        self.next_sample_ns = (self.times[-1] + self.sample_ns if self.times
                               else now - now % self.sample_ns)
        while self.events and self.events[-1].seq >= seq:
            self.events.pop()
        while self.disk_ops and self.disk_ops[-1][0] > now:
            self.disk_ops.pop()
        # records written since the last one kept (a gap the ring still holds) are read again
        self.trace_seq = self.events[-1].seq + 1 if self.events else max(0, seq - k.trace.size)
        self.vm_prev = {}
        self.vm_last = k.metrics()
        self.vm_last_ns = now
        self.next_interval_ns = now - now % self.interval_ns + self.interval_ns
        self._owners = BlockOwners()
        self.after_event()
        self.drain()

    def after_event(self) -> None:
        """Take the samples whose time has come (call after every event; cheap otherwise)."""
        now = self.k.machine.clock.now
        if now >= self.next_sample_ns:
            self._sample(now)
        if now >= self.next_interval_ns:
            self._interval(now)

    def current(self) -> tuple[int, int, int, int]:
        """The plotted series' values now, in SERIES order."""
        k = self.k
        return (
            k.pgdat.zone.free_pages,
            k.vmstat.nr_dirty,
            k.vmstat.nr_writeback,
            k.vl_total_swap_pages() - k.vl_nr_swap_pages(),
        )

    def _sample(self, now: int) -> None:
        values = self.current()
        reps = 0
        while self.next_sample_ns <= now and reps < MAX_SAMPLES:
            self.times.append(self.next_sample_ns)
            for name, v in zip(SERIES, values, strict=True):
                self.series[name].append(v)
            self.next_sample_ns += self.sample_ns
            reps += 1
        if self.next_sample_ns <= now:
            self.next_sample_ns = now - now % self.sample_ns + self.sample_ns

    def _interval(self, now: int) -> None:
        self.vm_prev = self.vm_last
        self.vm_last = self.k.metrics()
        self.vm_last_ns = now
        self.next_interval_ns = now - now % self.interval_ns + self.interval_ns

    def deltas(self) -> dict[str, int]:
        """Each counter's change over the last completed interval ({} before the first)."""
        if not self.vm_prev:
            return {}
        return {n: v - self.vm_prev.get(n, 0) for n, v in self.vm_last.items()}

    def drain(self) -> list[EventRec]:
        """Read the trace records emitted since the last call; returns them, oldest first."""
        k = self.k
        trace = k.trace
        raw = trace.since(self.trace_seq)
        if raw and raw[0].seq > self.trace_seq:
            self.dropped += raw[0].seq - self.trace_seq
        new: list[EventRec] = []
        for ev in raw:
            rec = resolve_event(k, ev.seq, ev.time, ev.kind, ev.pid, ev.a, ev.b, ev.s,
                                self._owners)
            new.append(rec)
            if ev.kind == "io_complete":
                self.disk_ops.append((ev.time, ev.a, ev.b, ev.s == "W"))
        self.events.extend(new)
        self.trace_seq = trace.next_seq
        return new

    def throughput(self, window_ns: int) -> tuple[int, int]:
        """(bytes, ns): data moved by requests completed in the last ``window_ns``."""
        now = self.k.machine.clock.now
        start = max(0, now - window_ns)
        sectors = 0
        for t, _sector, nsect, _w in reversed(self.disk_ops):
            if t < start:
                break
            sectors += nsect
        return sectors * 512, now - start
