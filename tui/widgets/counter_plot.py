"""A plot of chosen counters against simulated time, with axes and units (textual-plotext).

The points are the session's series (``scenarios.series``: every counter at fixed steps of
simulated time) and, as the last point, the counters now, so the plot reaches the present
between two samples. A long series is thinned to about two points per column of the plot.
Counters of different units share the y axis; its label names every unit shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from textual_plotext import PlotextPlot

from scenarios.series import CounterSeries

#: Counters plotted when the tab first opens.
DEFAULT_PLOTTED: Final = ("nr_dirty", "nr_writeback")
#: Line colours, in the order counters are chosen.
COLOURS: Final = ("red", "orange", "cyan", "green", "magenta", "blue", "yellow", "white")

_PAGES: Final = frozenset({
    "nr_dirty", "nr_writeback", "nr_unstable", "nr_pagecache", "nr_mapped", "nr_anon",
    "nr_swapcache", "nr_page_table_pages", "nr_slab", "nr_free_pages", "nr_active",
    "nr_inactive", "pages_min", "pages_low", "pages_high", "total_pages", "nr_swap_pages",
    "swap_used_pages",
})


def unit_of(name: str) -> tuple[str, float]:
    """(unit, divisor): how a counter is shown on the y axis."""
    if name.endswith("_ns"):
        return "ms", 1e6
    if name.endswith("bytes") or "_bytes_" in name:
        return "KiB", 1024.0
    if name in ("pgpgin", "pgpgout"):
        return "KiB", 1.0
    if name in _PAGES:
        return "pages", 1.0
    if "sectors" in name:
        return "sectors", 1.0
    return "count", 1.0


class CounterPlot(PlotextPlot):
    """Chosen counters over simulated time."""

    DEFAULT_CSS = """
    CounterPlot { height: 1fr; min-height: 8; }
    """

    def show(self, series: CounterSeries, now_ns: int, now: Mapping[str, int],
             names: Sequence[str]) -> None:
        """Plot ``names`` from ``series`` and the values ``now`` at ``now_ns``."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        times = list(series.times)
        if not times or times[-1] < now_ns:
            times.append(now_ns)
        step = max(1, len(times) // max(1, 2 * self.size.width))
        keep = list(range(0, len(times), step))
        if keep[-1] != len(times) - 1:
            keep.append(len(times) - 1)
        span = times[-1] - times[0] if times else 0
        in_s = span >= 2_000_000_000
        scale = 1e9 if in_s else 1e6
        xs = [times[i] / scale for i in keep]
        units: list[str] = []
        for n, name in enumerate(names):
            unit, div = unit_of(name)
            if unit not in units:
                units.append(unit)
            col: list[int] = list(series.column(name)) if name in series.names else []
            if len(col) < len(times):
                col += [now.get(name, 0)] * (len(times) - len(col))
            plt.plot(xs, [col[i] / div for i in keep], label=f"{name} ({unit})",
                     color=COLOURS[n % len(COLOURS)], marker="braille")
        plt.xlabel("simulated time (s)" if in_s else "simulated time (ms)")
        plt.ylabel(" | ".join(units) if units else "")
        step_ms = series.interval_ns / 1e6
        count = f"{len(series):,} sample" + ("" if len(series) == 1 else "s")
        plt.title(f"one sample per {step_ms:g} ms; {count}" if names
                  else "no counter chosen: enter on a row of the table plots it")
        self.refresh()
