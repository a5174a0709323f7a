"""The event log: trace events, newest at the bottom, filtered by kind, task, file or frame.

A line-API widget over the events that pass the filter; a line is formatted only when it is
drawn. It keeps its own scroll position instead of a scroll area: a log that grows on every
frame would otherwise resize its virtual area, and with it relayout the whole screen, ten
times a second. The log follows new events until the user scrolls up; ``end`` follows again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.strip import Strip
from textual.widget import Widget

from tui.frame_style import app_palette, readable_style
from tui.view_io import EventFilter, EventRec, event_detail, fmt_time

#: Most lines a log keeps (the oldest go first).
MAX_LINES: Final = 5000

_KIND_COLOURS: Final = {
    "dirty": "#ff4f4f", "writeback_start": "#ffa500", "writeback_end": "#ffa500",
    "io_submit": "#4fa3ff", "io_complete": "#4fa3ff", "fsync_begin": "#ff79c6",
    "fsync_end": "#ff79c6", "checkpoint": "bold #ffff5f", "task": "#3fcf5f",
    "fault": "#8be9fd", "cow": "#8be9fd", "map": "#8be9fd", "unmap": "#8be9fd",
    "reclaim_scan": "#c77dff", "kswapd": "#c77dff", "swap_out": "#c77dff",
    "swap_in": "#c77dff", "reclaim_page": "#c77dff", "refill_page": "#c77dff",
    "activate": "#c77dff", "oom": "bold #ff4f4f", "segv": "bold #ff4f4f",
    "throttle": "#ffa500", "pdflush": "#ffa500", "syscall": "#9e9eb8",
}
_TIME: Final = Style(color="#6c6c7c")
_WHO: Final = Style(color="#8be9fd")
_MORE: Final = Style(color="#ffff5f", bold=True)
_STYLE_CACHE: dict[str, Style] = {}


def kind_style(kind: str) -> Style:
    """The colour of an event kind."""
    style = _STYLE_CACHE.get(kind)
    if style is None:
        style = Style.parse(_KIND_COLOURS.get(kind, "white"))
        _STYLE_CACHE[kind] = style
    return style


#: Below this width the log drops its column padding, so the detail, the part that says
#: what happened, still shows (at 80x24 the log pane is 48 wide).
NARROW: Final = 72


def event_segments(ev: EventRec, width: int = NARROW) -> list[Segment]:
    """One log line as styled segments; a narrow log packs the columns."""
    who = f"{ev.pid} {ev.comm}" if ev.pid >= 0 else "irq"
    if width < NARROW:
        return [
            Segment(f"{fmt_time(ev.time)} ", _TIME),
            Segment(f"{who} ", _WHO),
            Segment(f"{ev.kind} ", kind_style(ev.kind)),
            Segment(event_detail(ev)),
        ]
    return [
        Segment(f"{fmt_time(ev.time):>10} ", _TIME),
        Segment(f"{who[:12]:<12} ", _WHO),
        Segment(f"{ev.kind:<15} ", kind_style(ev.kind)),
        Segment(event_detail(ev)),
    ]


class EventLog(Widget, can_focus=True):
    """Filtered trace events."""

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll(-1)", "Older", show=False),
        Binding("down,j", "scroll(1)", "Newer", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "oldest", "Oldest", show=False),
        Binding("end", "follow", "Follow", show=False),
    ]
    KEY_HELP: ClassVar[tuple[tuple[str, str], ...]] = (
        ("up / down / pgup / pgdn / wheel", "scroll the event log"),
        ("end", "follow new events again"),
        ("home", "the oldest event kept"),
    )

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[EventRec] = []
        self.filter = EventFilter()
        #: True while the newest events are in view.
        self.follow = True
        #: Index of the row on the first line, when not following.
        self.top = 0

    # ---- contents ----------------------------------------------------------------------------

    def set_filter(self, flt: EventFilter, history: Iterable[EventRec]) -> None:
        """Apply a new filter to the whole remembered history."""
        self.filter = flt
        self.rows = [ev for ev in history if flt.matches(ev)][-MAX_LINES:]
        self.follow = True
        self.refresh()

    def reset(self, history: Iterable[EventRec]) -> None:
        """Start over with a new session's history."""
        self.set_filter(self.filter, history)

    def append(self, new: list[EventRec]) -> None:
        """Add events read after a slice."""
        if not new:
            return
        flt = self.filter
        added = [ev for ev in new if flt.matches(ev)] if flt.active else new
        if not added:
            return
        self.rows.extend(added)
        excess = len(self.rows) - MAX_LINES
        if excess > 0:
            del self.rows[:excess]
            self.top = max(0, self.top - excess)
        if self.region.area:
            self.refresh()

    # ---- drawing -----------------------------------------------------------------------------

    def first_row(self) -> int:
        """The row drawn on the first line."""
        height = self.size.height
        last_top = max(0, len(self.rows) - height)
        return last_top if self.follow else min(self.top, last_top)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = self.first_row() + y
        if row >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        if y == self.size.height - 1 and not self.follow and row < len(self.rows) - 1:
            more = len(self.rows) - 1 - row
            segments = [Segment(f" ↓ {more:,} newer (end follows) ", _MORE)]
        else:
            segments = event_segments(self.rows[row], width)
        palette = app_palette(self.app)  # the kinds' colours, readable on this theme
        strip = Strip([Segment(seg.text, readable_style(seg.style, palette))
                       if seg.style is not None else seg for seg in segments])
        return strip.apply_style(self.rich_style).crop(0, width)

    # ---- scrolling ---------------------------------------------------------------------------

    def _move_to(self, top: int) -> None:
        last_top = max(0, len(self.rows) - self.size.height)
        self.top = max(0, min(top, last_top))
        self.follow = self.top >= last_top
        self.refresh()

    def action_scroll(self, delta: int) -> None:
        self._move_to(self.first_row() + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.first_row() + direction * max(self.size.height - 1, 1))

    def action_oldest(self) -> None:
        self._move_to(0)

    def action_follow(self) -> None:
        self.follow = True
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_scroll(-3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_scroll(3)
