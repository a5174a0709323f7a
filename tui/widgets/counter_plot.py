"""A plot of chosen counters against simulated time, with axes and units (textual-plotext).

The points are the session's series (``scenarios.series``: every counter at fixed steps of
simulated time) and, as the last point, the counters now, so the plot reaches the present
between two samples. A long series is thinned to about two points per column of the plot.
Counters of different units share the y axis; its label names every unit shown.

The lines take their colours from the app's theme (error, warning, primary, ...), each made
readable on the plot's background (the theme's surface) as the frame map's colours are
(tui/frame_style.py), and are drawn again when the theme changes; textual-plotext's "auto"
theme already gives the canvas and the axes the theme's own colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from textual.color import Color
from textual_plotext import PlotextPlot

from scenarios.series import CounterSeries
from tui.frame_style import readable

#: Counters plotted when the tab first opens.
DEFAULT_PLOTTED: Final = ("nr_dirty", "nr_writeback")
#: The theme colour of each line, in the order counters are chosen (dirty first: error).
THEME_COLOURS: Final = ("error", "warning", "primary", "success", "secondary", "accent",
                        "foreground")
#: Line colours under an ANSI theme (the terminal's own palette).
ANSI_COLOURS: Final = ("red", "yellow", "blue", "green", "magenta", "cyan", "default")
#: Least contrast of a line against the plot's background (as the frame map's colours).
LINE_CONTRAST: Final = 3.0

Rgb = tuple[int, int, int]
_CACHE: dict[tuple[str, ...], tuple[Rgb | str, ...]] = {}


def _opaque(colour: Color, under: Color) -> Color:
    return under.blend(colour.with_alpha(1.0), colour.a, 1.0) if colour.a < 1 else colour


def line_colours(variables: Mapping[str, str]) -> tuple[Rgb | str, ...]:
    """The plot's line colours for a theme's CSS variables (``App.theme_variables``): each
    THEME_COLOURS entry blended towards the foreground until it stands out from the surface
    by LINE_CONTRAST; named colours under an ANSI theme."""
    key = tuple(variables.get(n, "") for n in ("surface", "background", *THEME_COLOURS))
    out = _CACHE.get(key)
    if out is not None:
        return out
    if variables.get("background", "").startswith("ansi_"):
        out = ANSI_COLOURS
    else:
        try:
            bg = _opaque(Color.parse(variables.get("surface") or variables.get("background")
                                     or "#1e1e1e"), Color(0, 0, 0))
            fg = _opaque(Color.parse(variables.get("foreground") or "#e0e0e0"), bg)
            colours: list[Rgb | str] = []
            for name in THEME_COLOURS:
                source = _opaque(Color.parse(variables.get(name) or fg.hex), bg)
                colours.append(readable(source, bg, fg, LINE_CONTRAST).rgb)
            out = tuple(colours)
        except Exception:  # a theme variable Textual cannot parse: plotext's own colours
            out = ANSI_COLOURS
    _CACHE[key] = out
    return out

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

    _shown: tuple[CounterSeries, int, Mapping[str, int], Sequence[str]] | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._show_again())

    def on_resize(self) -> None:
        # the points kept depend on the width: a plot first drawn before its layout settled
        # (width 0) would keep every other sample until the next change
        self._show_again()

    def _show_again(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, series: CounterSeries, now_ns: int, now: Mapping[str, int],
             names: Sequence[str]) -> None:
        """Plot ``names`` from ``series`` and the values ``now`` at ``now_ns``."""
        self._shown = (series, now_ns, now, tuple(names))
        colours = line_colours(self.app.theme_variables)
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
        lowest, highest = 0.0, 0.0
        for n, name in enumerate(names):
            unit, div = unit_of(name)
            if unit not in units:
                units.append(unit)
            col: list[int] = list(series.column(name)) if name in series.names else []
            if len(col) < len(times):
                col += [now.get(name, 0)] * (len(times) - len(col))
            ys = [col[i] / div for i in keep]
            lowest = min(lowest, min(ys))
            highest = max(highest, max(ys))
            plt.plot(xs, ys, label=f"{name} ({unit})",
                     color=colours[n % len(colours)], marker="braille")
        if lowest >= 0:  # counts and sizes: the axis starts at 0, never below it
            plt.ylim(0, highest if highest > 0 else 1)
        plt.xlabel("simulated time (s)" if in_s else "simulated time (ms)")
        plt.ylabel(" | ".join(units) if units else "")
        step_ms = series.interval_ns / 1e6
        count = f"{len(series):,} sample" + ("" if len(series) == 1 else "s")
        plt.title(f"one sample per {step_ms:g} ms; {count}" if names
                  else "no counter chosen: enter on a row of the table plots it")
        self.refresh()
