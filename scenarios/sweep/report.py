"""Looking at a sweep's rows: a summary table grouped by kernel, and a plot in the terminal.

Both work on rows as ``scenarios.sweep.store`` reads them back, so ``vmlab plot FILE`` draws
a finished (or half-finished) sweep without running anything. Rows whose run failed
(``outcome`` = ``error``) are counted in the summary but never plotted or averaged.

Several seeds of one configuration are averaged (the mean is printed and plotted; the
summary also gives the smallest and largest value when they differ).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from scenarios.compare import ROWS, Configuration, format_value
from scenarios.expect import suggest
from scenarios.profiles import DESIGNS
from scenarios.sweep.params import SweepError
from scenarios.sweep.rows import INT, METRICS, OUTCOME_ERROR, OUTCOME_FAIL, Columns
from scenarios.units import UnitError, format_size, parse_duration, parse_int, parse_size

Row = dict[str, object]

#: ``--by kernel``: one series per kernel configuration (profile and designs).
BY_KERNEL: Final = "kernel"
#: How many metrics the summary shows when none is asked for.
SUMMARY_METRICS: Final = 3
#: Metrics the summary prefers (the comparison table's, then the run summary's counters).
_PREFERRED: Final = (
    *(r.metric for r in ROWS), "nr_dirty", "pgmajfault", "pswpout", "writeback_pages",
    "throttled_ns", "pgsteal", "rmap_walk_steps", "acked_bytes_lost", "oom_kill")
_KINDS: Final = {r.metric: r.kind for r in ROWS}
_MARKERS: Final = ("*", "o", "+", "x", "#", "@", "%", "&")


def kernel_label(row: Row) -> str:
    """``2.6.5``, or ``2.6.7 rmap=pte_chain`` when a design is not the profile's own."""
    designs = {a.switch: str(row.get(a.switch, "")) for a in DESIGNS}
    try:
        return Configuration(str(row.get("kernel", "")), **designs).label()
    except KeyError:  # a profile this vmlab does not know (a file from another version)
        return " ".join([str(row.get("kernel", "")), *designs.values()])


def show_value(metric: str, value: float) -> str:
    """A metric as the summary shows it, short: ``160KiB``, ``1.25s``, ``1.8 MiB/s``,
    ``8,816`` (a mean that is not whole keeps one decimal)."""
    kind = _KINDS.get(metric, "ns" if metric.endswith("_ns") else "count")
    whole = round(value)
    if kind == "bytes":
        return format_size(whole) if whole % 1024 == 0 else f"{_compact(value)}B"
    if kind in ("ns", "rate"):
        return format_value(kind, whole)
    if abs(value) >= 10_000_000:
        return _compact(value)
    return f"{value:,.1f}" if value != whole else f"{whole:,}"


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values)


def _check_column(name: str, cols: Columns, option: str, what: str,
                  extra: Sequence[str] = ()) -> None:
    known = [*extra, *cols.names()]
    if name not in known:
        raise SweepError(f'{option}: no {what} "{name}" in these results{suggest(name, known)}')


def pick_metrics(rows: Sequence[Row], cols: Columns, wanted: Sequence[str]) -> list[str]:
    """The metrics of the summary: ``wanted``, then (up to SUMMARY_METRICS) those whose
    value differs between the rows, the comparison table's first.

    Raises:
        SweepError: a wanted name is not a metric.
    """
    for name in wanted:
        if name not in METRICS:
            raise SweepError(f'--plot/--show: no metric "{name}"{suggest(name, METRICS)}')
    chosen = list(wanted)
    ok = [r for r in rows if r.get("outcome") != OUTCOME_ERROR]
    for name in (*_PREFERRED, *METRICS):
        if len(chosen) >= max(SUMMARY_METRICS, len(wanted)):
            break
        if name in chosen or cols.kind(name) != INT:
            continue
        if len({r.get(name) for r in ok}) > 1:
            chosen.append(name)
    return chosen


@dataclass
class Group:
    """The rows of one kernel configuration and one set of --set values."""

    kernel: str
    params: tuple[str, ...]
    rows: list[Row]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.get("outcome") == outcome)

    def values(self, metric: str) -> list[int]:
        return [v for r in self.rows if r.get("outcome") != OUTCOME_ERROR
                and isinstance(v := r.get(metric), int)]


def group_rows(rows: Sequence[Row], cols: Columns) -> list[Group]:
    """Rows grouped by kernel configuration, then by --set values (first-seen order)."""
    groups: dict[tuple[str, tuple[str, ...]], Group] = {}
    for row in rows:
        params = tuple(str(row.get(p, "")) for p in cols.params)
        label = kernel_label(row)
        groups.setdefault((label, params), Group(label, params, [])).rows.append(row)
    order = list(dict.fromkeys(g.kernel for g in groups.values()))
    return sorted(groups.values(), key=lambda g: order.index(g.kernel))


def summary_table(rows: Sequence[Row], cols: Columns, metrics: Sequence[str],
                  title: str) -> object:
    """A rich Table: one section per kernel, one line per --set combination, with the runs,
    their outcomes and the mean of each metric over the seeds (with ±half the spread between
    the smallest and largest value, relative to the mean, when the seeds differ)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("kernel", style="bold", no_wrap=True)
    for p in cols.params:
        table.add_column(p, overflow="fold", max_width=24)
    table.add_column("runs", justify="right")
    table.add_column("pass/fail/err", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(m, justify="right", overflow="fold", min_width=8)
    previous = None
    for g in group_rows(rows, cols):
        if previous is not None and g.kernel != previous:
            table.add_section()
        cells = []
        for m in metrics:
            values = g.values(m)
            if not values:
                cells.append("-")
                continue
            mean = _mean(values)
            text = show_value(m, mean)
            if min(values) != max(values) and mean:  # the spread over the seeds
                text += f"\n[dim]±{(max(values) - min(values)) / 2 / abs(mean):.1%}[/]"
            cells.append(text)
        errors = g.count(OUTCOME_ERROR)
        fails = g.count(OUTCOME_FAIL)
        outcome = (f"{len(g.rows) - fails - errors}/"
                   f"{f'[red]{fails}[/]' if fails else '0'}/"
                   f"{f'[red]{errors}[/]' if errors else '0'}")
        table.add_row(g.kernel if g.kernel != previous else "", *g.params, str(len(g.rows)),
                      outcome, *cells)
        previous = g.kernel
    return table


def _x_position(values: Sequence[str]) -> Callable[[str], float] | None:
    """A numeric reading shared by every x value (a number, a size, a duration), or None."""
    for parse in (lambda t: parse_int(t, "number"), parse_size, parse_duration):
        try:
            for v in values:
                parse(v)
        except UnitError:
            continue
        return lambda t, p=parse: float(p(t))  # type: ignore[misc]
    return None


def _compact(value: float) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def plot_text(rows: Sequence[Row], cols: Columns, x: str, y: str, by: str = BY_KERNEL,
              width: int = 78, height: int = 20, log_y: bool = False,
              color: bool = False) -> str:
    """Draw ``y`` against ``x`` with one series per value of ``by`` (plotext), as text.

    Raises:
        SweepError: a column that is not in the results, a y that is not a metric, or no
            finished run to draw.
    """
    import plotext as plt

    _check_column(x, cols, "--x", "column")
    _check_column(by, cols, "--by", "column", extra=[BY_KERNEL])
    if y not in METRICS:
        raise SweepError(f'--y: no metric "{y}"{suggest(y, METRICS)}')
    ok = [r for r in rows if r.get("outcome") != OUTCOME_ERROR and isinstance(r.get(y), int)]
    if not ok:
        raise SweepError(f"no finished run to plot {y} from")
    xs = list(dict.fromkeys(str(r.get(x, "")) for r in ok))
    reading = _x_position(xs)
    if reading is not None:
        xs.sort(key=reading)
        position = reading
    else:
        def position(t: str) -> float:
            return float(xs.index(t))
    # a parameter that is neither x nor --by splits the lines too, rather than being averaged
    others = [p for p in cols.params if p not in (x, by)
              and len({str(r.get(p, "")) for r in ok}) > 1]
    series: dict[str, dict[str, list[int]]] = {}
    for r in ok:
        name = kernel_label(r) if by == BY_KERNEL else str(r.get(by, ""))
        name = " ".join([name, *(f"{p}={r.get(p, '')}" for p in others)])
        value = r.get(y)
        assert isinstance(value, int)
        series.setdefault(name, {}).setdefault(str(r.get(x, "")), []).append(value)
    plt.clear_figure()
    plt.plotsize(width, height)
    if not color:
        plt.theme("clear")
    if log_y:
        plt.yscale("log")
    for i, (name, points) in enumerate(series.items()):
        px = sorted(points, key=position)
        plt.plot([position(v) for v in px], [_mean(points[v]) for v in px], label=name,
                 marker=_MARKERS[i % len(_MARKERS)])
    plt.xticks([position(v) for v in xs], xs)
    means = [_mean(v) for s in series.values() for v in s.values()]
    lo, hi = min(means), max(means)
    if log_y and lo > 0:
        ticks = [10.0 ** e for e in range(math.floor(math.log10(lo)),
                                           math.ceil(math.log10(hi)) + 1)
                 if lo <= 10.0 ** e <= hi] or [lo, hi]
        plt.yticks(ticks, [_compact(t) for t in ticks])
    elif hi > lo:
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        plt.yticks(ticks, [_compact(t) for t in ticks])
    seeds = len({r.get("seed") for r in ok})
    notes = [f"mean of {seeds} seeds"] if seeds > 1 else []
    notes += ["log scale"] if log_y else []
    plt.title(f"{y} ({', '.join(notes)})" if notes else y)
    plt.xlabel(x)
    text = str(plt.build())
    plt.clear_figure()
    return text if color else str(plt.uncolorize(text))
