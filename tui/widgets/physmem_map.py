"""The physical memory map: every frame a cell with a glyph and a colour, zoomable, with a
frame cursor.

A line-API ScrollView: ``render_line`` builds only the visible rows, and only their cells, from
the state bytes ``kernelmodel.inspect.frame_state`` computes (compiled). Each state has its own
glyph and a colour from the running theme (``tui.frame_style``), so the map reads without
colour and on a light theme. At zoom ``z`` a cell stands for ``z`` frames and shows the most
notable state in them (locked, writeback, dirty), else the commonest used one; ``·`` only if
all are free.
``update_states`` compares the new bytes with the old row by row and refreshes only the
visible rows that changed.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from kernelmodel.inspect.frame_state import (
    FRAME_STATE_NAMES,
    FS_FILL_SHIFT,
    FS_NO_FRAME,
    FS_STATE_MASK,
    NR_FRAME_STATES,
    vl_frame_summary,
    vl_frame_summary_row,
)
from tui.frame_style import FRAME_GLYPHS, SHORT_STATE_NAMES, FramePalette, app_palette
from tui.messages import FrameClicked, FrameOpened, FrameSelected, MapZoomed
from tui.widgets.text_update import update_text

#: Frames per cell.
ZOOMS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class CellTable:
    """Glyph, style and cursor style of every summary byte (256 entries) for one palette."""

    def __init__(self, palette: FramePalette) -> None:
        self.palette = palette
        self.glyphs: list[str] = []
        self.styles: list[Style] = []
        self.cursors: list[Style] = []
        for byte in range(256):
            if byte == FS_NO_FRAME:
                self.glyphs.append(" ")
                self.styles.append(Style())
                self.cursors.append(palette.cursor_style(0))
                continue
            state = byte & FS_STATE_MASK if byte >> FS_FILL_SHIFT else 0
            self.glyphs.append(FRAME_GLYPHS[state])
            self.styles.append(palette.style(state))
            self.cursors.append(palette.cursor_style(state))
        self.gutter = Style(color=palette.muted)


class PhysMemMap(ScrollView, can_focus=True):
    """Every physical frame as a cell; arrows/hjkl move the cursor, [ and ] zoom."""

    DEFAULT_CSS = """
    PhysMemMap {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1, 0)", "Left", show=False),
        Binding("right,l", "move(1, 0)", "Right", show=False),
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First frame", show=False),
        Binding("end", "jump(-1)", "Last frame", show=False),
        Binding("left_square_bracket", "zoom(1)", "Zoom out", show=False),
        Binding("right_square_bracket", "zoom(-1)", "Zoom in", show=False),
        Binding("f", "fit", "Fit", show=False),
        Binding("enter", "open", "Page detail", show=False),
    ]
    #: What each local key does, for the help screen.
    KEY_HELP: ClassVar[tuple[tuple[str, str], ...]] = (
        ("arrows / h j k l", "move the frame cursor"),
        ("pgup / pgdn", "move the cursor a screen up or down"),
        ("home / end", "first / last frame"),
        ("[ / ]", "zoom out / in (frames per cell)"),
        ("f", "zoom to fit the whole machine"),
        ("enter", "open the page detail of the frame under the cursor"),
        ("mouse click", "select the frame and show its page in the Page tab"),
    )

    #: The frame under the cursor.
    cursor: reactive[int] = reactive(0, layout=False, repaint=False)
    #: Frames per cell.
    zoom: reactive[int] = reactive(1, layout=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.states = b""
        self.cols = 1
        self.label_width = 6
        #: True until the user zooms: the zoom then follows the widget's size.
        self.fit = True
        self._table: CellTable | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._table = None
        self.refresh()

    @property
    def table(self) -> CellTable:
        """The glyphs and styles of the current theme."""
        palette = app_palette(self.app)
        if self._table is None or self._table.palette is not palette:
            self._table = CellTable(palette)
        return self._table

    # ---- geometry --------------------------------------------------------------------------

    @property
    def nframes(self) -> int:
        return len(self.states)

    def _cells(self) -> int:
        z = self.zoom
        return (self.nframes + z - 1) // z

    def _rows(self) -> int:
        return (self._cells() + self.cols - 1) // self.cols if self.cols else 0

    def _layout(self) -> None:
        """Choose columns (and the zoom, when fitting) from the widget's size; say so if the
        zoom changed (the legend's caption names it)."""
        before = self.zoom
        digits = max(len(f"{max(self.nframes - 1, 0):x}"), 3)
        self.label_width = digits + 1
        width = max(self.scrollable_content_region.width, self.size.width - 1, 1)
        avail = max(width - self.label_width, 1)
        self.cols = avail - avail % 8 if avail >= 8 else avail
        if self.fit and self.nframes:
            rows = max(self.size.height, 1)
            for z in ZOOMS:
                if (self.nframes + z - 1) // z <= self.cols * rows:
                    self.set_reactive(PhysMemMap.zoom, z)
                    break
            else:
                self.set_reactive(PhysMemMap.zoom, ZOOMS[-1])
        self.virtual_size = Size(self.label_width + self.cols, self._rows())
        if self.zoom != before:
            self.post_message(MapZoomed(self.zoom))

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        self.refresh()

    def describe_zoom(self) -> str:
        """"1 cell = 4 frames (16 KiB)"."""
        z = self.zoom
        size = z * 4
        unit = f"{size} KiB" if size < 1024 else f"{size // 1024} MiB"
        return f"1 cell = {z} frame{'s' if z > 1 else ''} ({unit})"

    # ---- data ------------------------------------------------------------------------------

    def update_states(self, states: bytes) -> None:
        """Show new frame states, refreshing only the visible rows that changed."""
        old = self.states
        self.states = states
        if len(old) != len(states):
            self._layout()
            self.refresh()
            return
        per_row = self.cols * self.zoom
        top = int(self.scroll_offset.y)
        for y in range(top, min(top + self.size.height, self._rows())):
            a = y * per_row
            if old[a:a + per_row] != states[a:a + per_row]:
                self.refresh_lines(y)

    # ---- rendering -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        row = y + int(self.scroll_offset.y)
        width = self.size.width
        if row >= self._rows() or not self.states:
            return Strip.blank(width, self.rich_style)
        per_row = self.cols * self.zoom
        start = row * per_row
        cells = vl_frame_summary_row(self.states, start, self.zoom, self.cols)
        cursor_col = -1
        if start <= self.cursor < start + per_row:
            cursor_col = (self.cursor - start) // self.zoom
        table = self.table
        segments = [Segment(f"{start:>{self.label_width - 1}x} ", table.gutter)]
        run_start = 0
        for c in range(1, self.cols + 1):
            if c < self.cols and cells[c] == cells[run_start] and c != cursor_col \
                    and run_start != cursor_col:
                continue
            byte = cells[run_start]
            style = table.cursors[byte] if run_start == cursor_col else table.styles[byte]
            segments.append(Segment(table.glyphs[byte] * (c - run_start), style))
            run_start = c
        # the widget's own style underneath: cells take the theme's background, not the
        # terminal's
        return Strip(segments).apply_style(self.rich_style).crop(0, width)

    # ---- cursor ----------------------------------------------------------------------------

    def select(self, pfn: int) -> None:
        """Put the cursor on ``pfn`` (clamped), scroll it into view and announce it."""
        if not self.nframes:
            return
        pfn = max(0, min(self.nframes - 1, pfn))
        old = self.cursor
        self.cursor = pfn
        per_row = max(self.cols * self.zoom, 1)
        self.refresh_lines(old // per_row)
        row = pfn // per_row
        self.refresh_lines(row)
        self.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True)
        if old != pfn:
            self.post_message(FrameSelected(pfn))

    def action_move(self, dx: int, dy: int) -> None:
        self.select(self.cursor + dx * self.zoom + dy * self.cols * self.zoom)

    def action_page(self, direction: int) -> None:
        rows = max(self.size.height - 1, 1)
        self.select(self.cursor + direction * rows * self.cols * self.zoom)

    def action_jump(self, where: int) -> None:
        self.select(where if where >= 0 else self.nframes - 1)

    def action_zoom(self, step: int) -> None:
        i = ZOOMS.index(self.zoom) if self.zoom in ZOOMS else 0
        i = max(0, min(len(ZOOMS) - 1, i + step))
        self.fit = False
        self.zoom = ZOOMS[i]
        self._layout()
        self.refresh()
        self.select(self.cursor)

    def action_fit(self) -> None:
        self.fit = True
        self._layout()
        self.refresh()
        self.select(self.cursor)

    def action_open(self) -> None:
        self.post_message(FrameOpened(self.cursor))

    def pfn_at(self, x: int, y: int) -> int:
        """The first frame of the cell at content offset (x, y), or -1."""
        col = x - self.label_width
        row = y + int(self.scroll_offset.y)
        if col < 0 or col >= self.cols or row < 0:
            return -1
        pfn = (row * self.cols + col) * self.zoom
        return pfn if pfn < self.nframes else -1

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        pfn = self.pfn_at(offset.x, offset.y)
        if pfn >= 0:
            self.focus()
            self.select(pfn)
            self.post_message(FrameClicked(pfn))


def _widest_line(entries: list[str], per_line: int, gap: int) -> int:
    """Cells of the widest legend line when lines hold ``per_line`` entries (glyph + text)."""
    widest = 0
    for first in range(0, len(entries), per_line):
        chunk = entries[first:first + per_line]
        widest = max(widest, sum(2 + len(e) for e in chunk) + gap * (len(chunk) - 1))
    return widest


class MapLegend(Static):
    """The glyph and colour of each frame state with its count, and the zoom."""

    DEFAULT_CSS = """
    MapLegend {
        height: auto;
        padding: 0 1;
    }
    """

    _shown: tuple[list[int], str, int, bytes] | None = None

    def on_resize(self, event: events.Resize) -> None:
        """Lay the entries out again for the new width (they wrap by it)."""
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, counts: list[int], zoom_text: str, cursor: int, cursor_states: bytes) -> None:
        """Redraw the legend.

        Args:
            counts: frames per state.
            zoom_text: what one cell stands for.
            cursor: the frame under the cursor.
            cursor_states: the states of the machine (for the cursor's state name).
        """
        self._shown = (counts, zoom_text, cursor, cursor_states)
        palette = app_palette(self.app)
        text = Text()
        width = self.content_region.width
        short = 0 < width < 64
        names = SHORT_STATE_NAMES if short else FRAME_STATE_NAMES
        entries = [f"{names[s]} {counts[s]:,}" for s in range(NR_FRAME_STATES)]
        gap = 1 if short else 2
        total = sum(len(e) + 2 + gap for e in entries)
        lines = max(1, -(-total // width)) if width > 0 else 1
        per_line = -(-NR_FRAME_STATES // lines)
        while per_line > 1 and width > 0 and _widest_line(entries, per_line, gap) > width:
            lines += 1  # counts grew: spread the entries over more lines, never split one
            per_line = -(-NR_FRAME_STATES // lines)
        for state, entry in enumerate(entries):
            if state and state % per_line == 0:
                text.append("\n")
            elif state:
                text.append(" " * gap)
            text.append(FRAME_GLYPHS[state], palette.style(state))
            text.append(" " + entry)
        text.append("\n")
        text.append(zoom_text, Style(color=palette.muted))
        if 0 <= cursor < len(cursor_states):
            state = vl_frame_summary(cursor_states, cursor, 1) & FS_STATE_MASK
            where = f"cursor pfn {cursor:#x}: "
            fits = len(zoom_text) + 3 + len(where) + len(FRAME_STATE_NAMES[state]) <= width
            # on a narrow pane the cursor gets its own line rather than breaking mid-phrase
            text.append(f"   {where}" if fits or width <= 0 else f"\n{where}",
                        Style(color=palette.muted))
            text.append(FRAME_STATE_NAMES[state], palette.style(state) + Style(bold=True))
        update_text(self, text)
