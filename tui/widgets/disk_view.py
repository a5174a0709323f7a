"""The disk: head, queue, the request in service, throughput, and requests by sector over time.

The plot puts simulated time on x and the sector on y (braille dots, two columns and four
rows per character), over a window that ends now. The sector axis spans the sectors the
requests in the window touched, so an offset-order writeback sweep shows as a rising line and
seeking as a scatter. Writes are red, reads green.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from kernelmodel.kernel.kernel import Kernel
from tui.frame_style import app_palette, readable_text
from tui.recorder import Recorder
from tui.view_io import DiskInfo, RequestRow, disk_info, fmt_time
from tui.widgets.text_update import update_text

#: Braille dot bits by (column, row) inside a character cell.
_DOTS: Final = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
PLOT_ROWS: Final = 10
#: Lines the queue takes (the last says how many more there are).
QUEUE_LINES: Final = 6
#: Width of the sector labels left of the plot.
AXIS: Final = 10


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.2f}ms"


def plot_requests(ops: Iterable[tuple[int, int, int, bool]], t0: int, t1: int, width: int,
                  rows: int) -> tuple[list[Text], int, int]:
    """Draw requests completed in [t0, t1] as braille dots, higher sectors higher up.

    Args:
        ops: (time, sector, nsect, write) of completed requests.
        t0, t1: the time window.
        width: characters across (two dots each).
        rows: text rows (four dots each).

    Returns:
        The plot's lines, and the lowest and highest sector on the axis.
    """
    pts = [(t, s, w) for t, s, _n, w in ops if t0 <= t <= t1]
    if not pts:
        return [Text(" " * width) for _ in range(rows)], 0, 0
    lo = min(s for _t, s, _w in pts)
    hi = max(s for _t, s, _w in pts)
    span_t = max(t1 - t0, 1)
    span_s = max(hi - lo, 1)
    dots = [[0] * width for _ in range(rows)]
    writes = [[False] * width for _ in range(rows)]
    reads = [[False] * width for _ in range(rows)]
    for t, s, w in pts:
        x = min((t - t0) * (width * 2 - 1) // span_t, width * 2 - 1)
        y = rows * 4 - 1 - min((s - lo) * (rows * 4 - 1) // span_s, rows * 4 - 1)
        cx, cy = x // 2, y // 4
        dots[cy][cx] |= _DOTS[x % 2][y % 4]
        if w:
            writes[cy][cx] = True
        else:
            reads[cy][cx] = True
    lines: list[Text] = []
    for r in range(rows):
        line = Text()
        for c in range(width):
            bits = dots[r][c]
            if not bits:
                line.append(" ")
                continue
            # weight tells writes from reads without colour
            style = "bold yellow" if writes[r][c] and reads[r][c] else (
                "bold #ff4f4f" if writes[r][c] else "#3fcf5f")
            line.append(chr(0x2800 + bits), style)
        lines.append(line)
    return lines, lo, hi


def _request_text(r: RequestRow, now: int) -> str:
    rw = "W" if r.write else "R"
    return f"#{r.req_id} {rw} sector {r.sector:,}+{r.nsect} (waited {_ms(now - r.submit_ns)})"


def state_text(info: DiskInfo, now: int, throughput: tuple[int, int], busy_ns: int) -> Text:
    """Head, request in service, queue and throughput as text."""
    text = Text()
    text.append("head ", "bold")
    text.append(f"sector {info.head:,} (cylinder {info.cylinder} of {info.ncyl})  ")
    text.append(f"elevator {info.elevator}", "dim")
    if info.swap_start >= 0:
        text.append(f"  swap from sector {info.swap_start:,}", "dim")
    text.append("\nin service: ", "bold")
    r = info.in_service
    if r is None:
        text.append("idle", "dim")
    else:
        rw = "write" if r.write else "read"
        text.append(f"#{r.req_id} {rw} sector {r.sector:,}+{r.nsect}, started "
                    f"{_ms(now - r.start_ns)} ago, done in {_ms(max(r.done_ns - now, 0))}")
    text.append(f"\nqueue ({len(info.queue)}): ", "bold")
    if not info.queue:
        text.append("empty", "dim")
    # always QUEUE_LINES lines, so the text keeps its height (no relayout per frame)
    for i in range(QUEUE_LINES):
        if i < len(info.queue) and (i < QUEUE_LINES - 1 or len(info.queue) == QUEUE_LINES):
            text.append("\n  " + _request_text(info.queue[i], now))
        elif i == QUEUE_LINES - 1 and len(info.queue) > QUEUE_LINES:
            text.append(f"\n  ... {len(info.queue) - i} more", "dim")
        else:
            text.append("\n")
    nbytes, window = throughput
    rate = nbytes / window * 1e3 if window else 0.0
    text.append("\nthroughput: ", "bold")
    text.append(f"{rate:.2f} MB/s over the last {_ms(window)}; ")
    text.append(f"busy {100 * busy_ns / now if now else 0:.0f}% of the run\n")
    text.append("  ".join(f"{name} {value:,}" for name, value in info.counters), "dim")
    return text


class DiskPanel(VerticalScroll):
    """State text above the sector/time plot."""

    DEFAULT_CSS = """
    DiskPanel { height: 1fr; padding: 0 1; }
    DiskPanel #disk-plot { height: auto; margin-top: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._key: tuple[object, ...] = ()
        self._last: tuple[Kernel, Recorder] | None = None

    def on_resize(self) -> None:
        if self._last is not None:
            self.refresh_model(*self._last)

    def compose(self) -> ComposeResult:
        yield Static("", id="disk-state")
        yield Static("", id="disk-plot")

    def refresh_model(self, k: Kernel, rec: Recorder) -> None:
        """Redraw from the model and the recorder's request history."""
        self._last = (k, rec)
        if self.size.width == 0:
            return
        now = k.machine.clock.now
        info = disk_info(k)
        window = rec.interval_ns * 4
        palette = app_palette(self.app)
        key = (now, len(rec.disk_ops), self.size.width, palette)
        if key == self._key:
            return
        self._key = key
        tput = rec.throughput(window)
        update_text(self.query_one("#disk-state", Static),
                    readable_text(state_text(info, now, tput, k.machine.disk.busy_ns), palette))
        width = max(self.size.width - AXIS - 3, 10)
        t0 = max(0, now - window)
        lines, lo, hi = plot_requests(rec.disk_ops, t0, now, width, PLOT_ROWS)
        plot = Text()
        plot.append(f"requests by sector, {fmt_time(t0)} .. {fmt_time(now)}"
                    " (writes red and bold, reads green)\n", "bold")
        for i, line in enumerate(lines):
            label = f"{hi:,}" if i == 0 else f"{lo:,}" if i == len(lines) - 1 else ""
            plot.append(f"{label:>{AXIS}} ", "dim")
            plot.append("│", "dim")
            plot.append_text(line)
            plot.append("\n")
        update_text(self.query_one("#disk-plot", Static), readable_text(plot, palette))
