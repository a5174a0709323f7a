"""A full-screen view of one frame: struct page, reverse map and all 4 KiB of its bytes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Label

from kernelmodel.kernel.kernel import Kernel
from tui.view import frame_bytes, page_info
from tui.widgets.page_inspector import PageInspector


class PageDetailScreen(Screen[None]):
    """The page inspector at full size; left/right step to the neighbouring frames."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("left,h", "step(-1)", "Previous frame"),
        Binding("right,l", "step(1)", "Next frame"),
    ]
    KEY_HELP: ClassVar[tuple[tuple[str, str], ...]] = (
        ("left / right (h / l)", "previous / next frame"),
        ("escape / q", "back to the dashboard"),
    )

    def __init__(self, k: Kernel, pfn: int) -> None:
        super().__init__(id="page-detail")
        self.kernel = k
        self.pfn = pfn

    def compose(self) -> ComposeResult:
        yield Label("", id="detail-title")
        yield PageInspector(hex_lines=300, id="detail-inspector")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_model(self.kernel)
        self.query_one("#detail-inspector").focus()

    def refresh_model(self, k: Kernel) -> None:
        """Redraw the frame (after a slice, or a step to another frame)."""
        self.kernel = k
        self.pfn = max(0, min(self.pfn, k.mem_map.nframes - 1))
        self.query_one("#detail-title", Label).update(
            f"page detail: frame {self.pfn:#x} of {k.mem_map.nframes:#x}"
            "   (left/right: neighbouring frames, escape: back)")
        self.query_one("#detail-inspector", PageInspector).show(
            page_info(k, self.pfn), frame_bytes(k, self.pfn))

    def action_step(self, delta: int) -> None:
        self.pfn += delta
        self.refresh_model(self.kernel)
