"""Counters: plots of free, dirty, writeback and swap used over simulated time, and a
vmstat-style table with each counter's change over the last interval."""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline

from kernelmodel.kernel import Kernel
from tui.recorder import SERIES, Recorder
from tui.view_io import fmt_time
from tui.widgets.text_update import update_text

#: Counters listed first in the table (the rest follow in the model's order).
FIRST: Final[tuple[str, ...]] = (
    "nr_free_pages", "nr_dirty", "nr_writeback", "swap_used_pages", "nr_pagecache", "nr_mapped",
    "nr_anon", "nr_swapcache", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout",
    "pgscan", "pgsteal",
)

_SERIES_IDS: Final = {name: "spark-" + name.replace(" ", "-") for name in SERIES}
_SERIES_COLOURS: Final = {"free": "#5f5f6f", "dirty": "#ff4f4f", "writeback": "#ffa500",
                          "swap used": "#c77dff"}


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
    """Four sparklines above the counter table."""

    DEFAULT_CSS = """
    VmstatPanel { height: 1fr; }
    VmstatPanel .spark-row { height: 2; }
    VmstatPanel .spark-row Label { width: 24; padding: 0 1; }
    VmstatPanel Sparkline { width: 1fr; height: 2; }
    VmstatPanel #vm-span { height: 1; width: 100%; padding: 0 1; color: $text-muted; }
    VmstatPanel #vm-table { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._names: list[str] = []
        self._values: dict[str, tuple[int, int | None]] = {}
        self._samples = -1

    def compose(self) -> ComposeResult:
        for name in SERIES:
            with Horizontal(classes="spark-row"):
                yield Label(name, id=_SERIES_IDS[name] + "-label")
                yield Sparkline([], id=_SERIES_IDS[name], summary_function=max)
        yield Label("", id="vm-span")
        table: DataTable[object] = DataTable(id="vm-table", cursor_type="row",
                                             zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#vm-table", DataTable)
        # fixed widths: auto widths depend on whether the tab was visible when rows came
        table.add_column("counter", width=24, key="name")
        table.add_column("value", width=15, key="value")
        table.add_column("Δ/interval", width=12, key="delta")
        for name in SERIES:
            spark = self.query_one("#" + _SERIES_IDS[name], Sparkline)
            spark.styles.color = _SERIES_COLOURS[name]

    def refresh_model(self, k: Kernel, rec: Recorder) -> None:
        """Update plots (when a sample was added) and the table."""
        now = dict(zip(SERIES, rec.current(), strict=True))
        for name in SERIES:
            update_text(self.query_one("#" + _SERIES_IDS[name] + "-label", Label),
                        f"{name} {now[name]:,} pages", fixed=True)
        n = len(rec.times)
        if n != self._samples:
            self._samples = n
            for name in SERIES:
                self.query_one("#" + _SERIES_IDS[name], Sparkline).data = list(rec.series[name])
            span = (f"plots: {fmt_time(rec.times[0])} .. {fmt_time(rec.times[-1])}, one sample "
                    f"per {rec.sample_ns / 1e6:g} ms" if rec.times else "")
            update_text(self.query_one("#vm-span", Label),
                        f"{span}   table: Δ over the last {rec.interval_ns / 1e6:g} ms interval",
                        fixed=True)
        self._update_table(k.metrics(), rec.deltas())

    def _update_table(self, metrics: dict[str, int], deltas: dict[str, int]) -> None:
        table: DataTable[object] = self.query_one("#vm-table", DataTable)
        names = ordered_counters(metrics)
        if names != self._names:
            table.clear()
            self._values = {}
            for name in names:
                d = deltas.get(name)
                table.add_row(name, f"{metrics[name]:,}", _delta(d), key=name)
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
