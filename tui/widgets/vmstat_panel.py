"""Counters: a plot of chosen counters over simulated time (dirty and writeback at first),
and a vmstat-style table with each counter's change over the last interval. Enter (or a
click) on a row of the table adds its counter to the plot, or takes it off."""

from __future__ import annotations

import time
from typing import Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from kernelmodel.kernel.kernel import Kernel
from scenarios.series import CounterSeries
from tui.recorder import Recorder
from tui.widgets.counter_plot import DEFAULT_PLOTTED, CounterPlot
from tui.widgets.text_update import update_text

#: Counters listed first in the table (the rest follow in the model's order).
FIRST: Final[tuple[str, ...]] = (
    "nr_free_pages", "nr_dirty", "nr_writeback", "swap_used_pages", "nr_pagecache", "nr_mapped",
    "nr_anon", "nr_swapcache", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout",
    "pgscan", "pgsteal",
)
#: Redraw the plot at most this often (wall seconds) while the run goes on.
_PLOT_PERIOD_S: Final = 0.25
_MARK: Final = Text("●", "bold")


def ordered_counters(metrics: dict[str, int]) -> list[str]:
    """Counter names: FIRST, then every other in the model's order."""
    names: list[str] = [n for n in FIRST if n in metrics]
    names += [n for n in metrics if n not in FIRST]
    return names


def _delta(d: int | None) -> Text:
    if d is None:
        return Text("")
    if d == 0:
        return Text("0", "dim")
    return Text(f"{d:+,}", "green" if d > 0 else "red")


class VmstatPanel(Vertical):
    """The plot above the counter table."""

    DEFAULT_CSS = """
    VmstatPanel { height: 1fr; }
    VmstatPanel #vm-plot { height: 3fr; }
    VmstatPanel #vm-span { height: 1; width: 100%; padding: 0 1; color: $text-muted; }
    VmstatPanel #vm-table { height: 2fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._names: list[str] = []
        self._values: dict[str, tuple[int, int | None]] = {}
        #: The counters plotted, in the order they were chosen.
        self.plotted: list[str] = list(DEFAULT_PLOTTED)
        self._plotted_at: tuple[int, int, tuple[str, ...]] = (-1, -1, ())
        self._plot_wall = 0.0
        self._series: CounterSeries | None = None
        self._metrics: dict[str, int] = {}
        self._now_ns = 0

    def compose(self) -> ComposeResult:
        yield CounterPlot(id="vm-plot")
        yield Label("", id="vm-span")
        table: DataTable[object] = DataTable(id="vm-table", cursor_type="row",
                                             zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#vm-table", DataTable)
        # fixed widths: auto widths depend on whether the tab was visible when rows came
        table.add_column("", width=1, key="plot")
        table.add_column("counter", width=24, key="name")
        table.add_column("value", width=15, key="value")
        table.add_column("Δ/interval", width=12, key="delta")

    def refresh_model(self, k: Kernel, rec: Recorder, series: CounterSeries | None = None) -> None:
        """Update the plot (when a sample was added, at most every quarter second while
        running) and the table."""
        metrics = k.metrics()
        self._metrics = metrics
        self._now_ns = k.machine.clock.now
        if series is not None:
            self._series = series
            self._replot(force=False)
        update_text(self.query_one("#vm-span", Label),
                    f"enter on a row plots it or not   table: Δ over the last "
                    f"{rec.interval_ns / 1e6:g} ms interval", fixed=True)
        self._update_table(metrics, rec.deltas())

    def _replot(self, force: bool) -> None:
        series = self._series
        if series is None:
            return
        key = (len(series), self._now_ns, tuple(self.plotted))
        wall = time.perf_counter()
        if not force and (key == self._plotted_at or wall - self._plot_wall < _PLOT_PERIOD_S):
            return
        self._plotted_at = key
        self._plot_wall = wall
        self.query_one("#vm-plot", CounterPlot).show(series, self._now_ns, self._metrics,
                                                      self.plotted)

    def toggle(self, name: str) -> None:
        """Plot ``name``, or stop plotting it."""
        if name in self.plotted:
            self.plotted.remove(name)
        else:
            self.plotted.append(name)
        table: DataTable[object] = self.query_one("#vm-table", DataTable)
        if name in self._values:
            table.update_cell(name, "plot", _MARK if name in self.plotted else "")
        self._replot(force=True)

    @on(DataTable.RowSelected, "#vm-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.toggle(str(event.row_key.value))

    def _update_table(self, metrics: dict[str, int], deltas: dict[str, int]) -> None:
        table: DataTable[object] = self.query_one("#vm-table", DataTable)
        names = ordered_counters(metrics)
        if names != self._names:
            table.clear()
            self._values = {}
            for name in names:
                d = deltas.get(name)
                table.add_row(_MARK if name in self.plotted else "", name,
                              f"{metrics[name]:,}", _delta(d), key=name)
                self._values[name] = (metrics[name], d)
            self._names = names
            return
        for name in names:
            value = (metrics[name], deltas.get(name))
            old = self._values.get(name)
            if old == value:
                continue
            if old is None or old[0] != value[0]:
                table.update_cell(name, "value", f"{value[0]:,}")
            if old is None or old[1] != value[1]:
                table.update_cell(name, "delta", _delta(value[1]))
            self._values[name] = value
