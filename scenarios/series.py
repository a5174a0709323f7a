"""Counters over time: every metric of a session sampled at fixed steps of simulated time.

A sample at time T holds the counters as they stood at T: after every event of time <= T and
before any later one. The session takes it just before it dispatches the first event later
than T (``Session._sample_upto``), so the samples are the same however a run is sliced (one
``step`` at a time, ``run`` to the end, or a snapshot and a resume in between), and taking
them changes nothing in the model: the state hash is the same with or without them.

The sampled names are the kernel's metrics (``Kernel.metrics``, the names ``vmlab run
--json`` reports) and ``events``; the session's costly metrics (``data_verified``,
``invariants_ok``, ``acked_bytes_lost``) run the data oracle or the invariant checker and are
not sampled.

Memory is bounded: each column is an ``array('q')`` (8 bytes a sample) and a series holds at
most ``MAX_SAMPLES`` samples; when it is full, every other sample is dropped and the interval
doubles (the kept samples stay on multiples of the new interval), so a long run keeps its
whole span at a coarser step. At the default 10 ms, 16,384 samples cover 2 min 43 s before
the first doubling, with 80 counters about 10 MB.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Final, Protocol, TextIO

#: The default sampling step: 10 ms of simulated time.
DEFAULT_INTERVAL_NS: Final = 10_000_000
#: The dashboard's step: finer, so a built-in that lasts a few milliseconds (fork-cow ends
#: at 5.3 ms, fsync-race-b at 8.5 ms) still plots as a curve, not one sample; a long run
#: coarsens it as any series does (16,384 samples cover 4 s before the first doubling).
DASHBOARD_INTERVAL_NS: Final = 250_000
#: Most samples a series keeps before it doubles its interval.
MAX_SAMPLES: Final = 16_384
#: The first column of a series file.
TIME_COLUMN: Final = "sim_time_ns"


class SeriesError(ValueError):
    """A series that cannot be built or restored (one line, for the user)."""


class Sampler(Protocol):
    """Something the session feeds samples: the series, a ``vmlab run --vmstat`` printer."""

    next_ns: int

    def take(self, values: Mapping[str, int], upto_ns: int) -> None:
        """Record ``values`` for every sample time from ``next_ns`` up to ``upto_ns``, and
        move ``next_ns`` past ``upto_ns``."""


def first_sample_at(now_ns: int, interval_ns: int) -> int:
    """The first multiple of ``interval_ns`` at or after ``now_ns``."""
    return -(-now_ns // interval_ns) * interval_ns


class CounterSeries:
    """The session's counters sampled every ``interval_ns`` of simulated time."""

    def __init__(self, interval_ns: int = DEFAULT_INTERVAL_NS, start_ns: int = 0,
                 max_samples: int = MAX_SAMPLES) -> None:
        """An empty series whose first sample is at the first multiple of ``interval_ns`` at
        or after ``start_ns``.

        Raises:
            SeriesError: the interval is not positive, or max_samples is below 2.
        """
        if interval_ns <= 0:
            raise SeriesError(f"the sampling interval must be positive, not {interval_ns} ns")
        if max_samples < 2:
            raise SeriesError("a series keeps at least 2 samples")
        self.interval_ns = interval_ns
        self.max_samples = max_samples
        self.next_ns = first_sample_at(start_ns, interval_ns)
        #: Column names (set by the first sample; the kernel's metrics never change names).
        self.names: tuple[str, ...] = ()
        self.times: array[int] = array("q")
        self.columns: list[array[int]] = []

    def __len__(self) -> int:
        return len(self.times)

    def take(self, values: Mapping[str, int], upto_ns: int) -> None:
        """Record ``values`` at every sample time from ``next_ns`` to ``upto_ns``."""
        if upto_ns < self.next_ns:
            return
        if not self.names:
            self.names = tuple(values)
            self.columns = [array("q") for _ in self.names]
        row = [values.get(name, 0) for name in self.names]
        while self.next_ns <= upto_ns:
            if len(self.times) >= self.max_samples:
                self._coarsen()
                continue
            self.times.append(self.next_ns)
            for col, v in zip(self.columns, row, strict=True):
                col.append(v)
            self.next_ns += self.interval_ns

    def forget_after(self, t_ns: int) -> None:
        """Drop the samples later than ``t_ns`` (the state changed at ``t_ns`` between two
        events: ``Session.power_cut``)."""
        n = len(self.times)
        while n and self.times[n - 1] > t_ns:
            n -= 1
        if n == len(self.times):
            return
        del self.times[n:]
        for col in self.columns:
            del col[n:]
        self.next_ns = first_sample_at(t_ns + 1, self.interval_ns)

    def _coarsen(self) -> None:
        """Double the interval and keep the samples on its multiples."""
        step = self.interval_ns * 2
        keep = [i for i, t in enumerate(self.times) if t % step == 0]
        self.times = array("q", (self.times[i] for i in keep))
        self.columns = [array("q", (col[i] for i in keep)) for col in self.columns]
        self.interval_ns = step
        self.next_ns = first_sample_at(self.next_ns, step)

    def column(self, name: str) -> array[int]:
        """One counter's samples (KeyError: no such counter)."""
        try:
            return self.columns[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def row(self, i: int) -> dict[str, int]:
        """Sample ``i`` as {name: value}, with ``sim_time_ns``."""
        out = {TIME_COLUMN: self.times[i]}
        for name, col in zip(self.names, self.columns, strict=True):
            out[name] = col[i]
        return out

    def write_csv(self, out: TextIO) -> int:
        """Write the series as CSV: ``sim_time_ns``, then one column per counter; returns
        the number of rows."""
        w = csv.writer(out, lineterminator="\n")
        w.writerow([TIME_COLUMN, *self.names])
        for i, t in enumerate(self.times):
            w.writerow([t, *(col[i] for col in self.columns)])
        return len(self.times)

    # ---- snapshots ---------------------------------------------------------------------------

    def to_section(self) -> dict[str, object]:
        """Plain data for a snapshot's session section (columns as int lists)."""
        return {
            "interval_ns": self.interval_ns,
            "next_ns": self.next_ns,
            "max_samples": self.max_samples,
            "names": list(self.names),
            "times": self.times.tolist(),
            "columns": [col.tolist() for col in self.columns],
        }

    @classmethod
    def from_section(cls, section: Mapping[str, object], now_ns: int) -> CounterSeries:
        """Rebuild a series from ``to_section`` data read from a file (checked: shapes,
        types, times rising on the interval's multiples, the next one after them). Samples
        may be later than the clock ``now_ns``: a run stopped at ``--until TIME`` has them up
        to that time, since nothing happens before the next event.

        Raises:
            SeriesError: the data is malformed.
        """
        interval, next_ns, cap = (_int(section, k) for k in ("interval_ns", "next_ns",
                                                              "max_samples"))
        out = cls(interval, 0, cap)
        names = _list(section, "names")
        if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise SeriesError("series: names must be distinct strings")
        times = _ints(_list(section, "times"), "times")
        columns = [_ints(c, "a column") if isinstance(c, list) else _bad("a column")
                   for c in _list(section, "columns")]
        if len(columns) != len(names) or any(len(c) != len(times) for c in columns):
            raise SeriesError("series: one column per name, one value per sample time")
        if len(times) > cap or (times and not names):
            raise SeriesError("series: more samples than it keeps, or samples without names")
        if any(t % interval for t in times) or any(b <= a for a, b in pairwise(times)):
            raise SeriesError("series: sample times must rise on multiples of the interval")
        if next_ns % interval or (times and next_ns <= times[-1]):
            raise SeriesError("series: the next sample time disagrees with the samples")
        if next_ns < 0 or (not times and next_ns > now_ns + interval):
            raise SeriesError("series: the next sample time disagrees with the clock")
        out.next_ns = next_ns
        out.names = tuple(str(n) for n in names)
        out.times = times
        out.columns = columns
        return out


def _bad(what: str) -> array[int]:
    raise SeriesError(f"series: {what} must be a list of integers")


def _int(section: Mapping[str, object], key: str) -> int:
    v = section.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise SeriesError(f"series: {key} must be an integer")
    return v


def _list(section: Mapping[str, object], key: str) -> list[object]:
    v = section.get(key)
    if not isinstance(v, list):
        raise SeriesError(f"series: {key} must be a list")
    return v


def _ints(values: Sequence[object], what: str) -> array[int]:
    """``values`` as an ``array('q')``: every item an int (not a bool) that fits 64 bits.

    The checks run in C over the whole column (the types as a set, the range in the array
    constructor): a long run keeps 81 columns of thousands of samples.
    """
    if not set(map(type, values)) <= {int}:
        raise SeriesError(f"series: {what} must be a list of 64-bit integers")
    try:
        return array("q", values)  # type: ignore[arg-type]
    except OverflowError:
        raise SeriesError(f"series: {what} must be a list of 64-bit integers") from None
