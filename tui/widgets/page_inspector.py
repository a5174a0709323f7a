"""The page inspector: one frame's struct page, its reverse map and its bytes."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from kernelmodel.view.vl_view import FRAME_STATE_NAMES
from tui.frame_style import FRAME_GLYPHS, FramePalette, app_palette, palette_for
from tui.view import PageInfo, RmapEntry, hexdump, pte_text


def _state_style(state: str, palette: FramePalette) -> Style:
    i = FRAME_STATE_NAMES.index(state) if state in FRAME_STATE_NAMES else 0
    return palette.style(i) + Style(bold=True)


def page_text(info: PageInfo, palette: FramePalette | None = None) -> Text:
    """struct page as a small table of fields, with the flags by name."""
    palette = palette or palette_for({})
    i = FRAME_STATE_NAMES.index(info.state) if info.state in FRAME_STATE_NAMES else 0
    text = Text()
    text.append(f"pfn {info.pfn:#x}  ", "bold")
    text.append(f"{FRAME_GLYPHS[i]} {info.state}", _state_style(info.state, palette))
    text.append(f"\n{info.role}\n\n", "italic")
    text.append("struct page\n", "bold underline")
    for name, value in info.fields:
        text.append(f"  {name:<10}", "cyan")
        text.append(f"{value}\n")
        if name == "flags":
            names = " | ".join(info.flag_names) if info.flag_names else "(none)"
            text.append(f"  {'':<10}{names}\n", "yellow")
    return text


def rmap_line(e: RmapEntry, pfn: int) -> Text:
    """One VMA of the reverse map: where the page would be, and what the pte there says."""
    line = Text("  ")
    line.append(f"vma #{e.vma_id}", "cyan")
    line.append(f" mm #{e.mm_id} [{e.tasks or 'no task'}] ")
    line.append(f"{e.vm_start:#010x}-{e.vm_end:#010x}", "dim")
    if e.address < 0:
        line.append("\n    does not cover this index", "dim")
        return line
    line.append(f"\n    addr {e.address:#010x}")
    if e.ptep < 0:
        line.append("  no page table", "dim")
        return line
    line.append(f"  pte @ {e.ptep:#010x}\n    = {e.pte:#010x} ")
    maps = e.maps_page and (e.pte >> 12) == pfn
    line.append(pte_text(e.pte), "green" if maps else "dim")
    if e.maps_page and not maps:
        line.append("  (another frame)", "dim")
    return line


def rmap_text(info: PageInfo) -> Text:
    """The reverse-map section."""
    text = Text()
    text.append("reverse map\n", "bold underline")
    text.append(f"  {info.rmap_head}\n")
    for e in info.rmap:
        text.append_text(rmap_line(e, info.pfn))
        text.append("\n")
    return text


def hex_text(data: bytes, max_lines: int, per_line: int = 16) -> Text:
    """The frame's bytes, hexdump -C style."""
    text = Text()
    text.append("frame bytes\n", "bold underline")
    for line in hexdump(data, max_lines, per_line):
        text.append(line + "\n", "dim" if line in ("*", "...") else "")
    return text


class PageInspector(VerticalScroll, can_focus=True):
    """struct page, reverse map and bytes of the selected frame."""

    DEFAULT_CSS = """
    PageInspector {
        height: 1fr;
        padding: 0 1;
    }
    PageInspector > #pi-hex {
        width: auto;
        min-width: 100%;
    }
    """

    def __init__(self, hex_lines: int = 32, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.hex_lines = hex_lines
        self._hex_key: tuple[int, int, bytes] = (-1, 0, b"")
        self._info: PageInfo | None = None
        self._data = b""

    def compose(self) -> ComposeResult:
        yield Static("select a frame on the map", id="pi-page")
        yield Static("", id="pi-rmap")
        yield Static("", id="pi-hex")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.on_resize())

    def on_resize(self) -> None:
        info = self._info
        if info is not None:
            # redraw everything: text first set at another width may have the wrong height
            self._info = None
            self._hex_key = (-1, 0, b"")
            self.show(info, self._data)

    def show(self, info: PageInfo, data: bytes) -> None:
        """Show a frame; parts whose content did not change are not redrawn."""
        self._data = data
        if info != self._info:
            self._info = info
            self.query_one("#pi-page", Static).update(page_text(info, app_palette(self.app)))
            self.query_one("#pi-rmap", Static).update(rmap_text(info))
        per_line = 16 if self.size.width >= 80 else 8
        key = (info.pfn, per_line, data)
        if key != self._hex_key:
            self._hex_key = key
            self.query_one("#pi-hex", Static).update(hex_text(data, self.hex_lines, per_line))
