"""The dashboard's footer: Textual's, with `? Help` and `q Quit` pinned to its right end.

Textual's footer lays the keys out left to right and cuts what does not fit, so at 80 columns
the last ones (help and quit, the two a newcomer most needs) fell off. Here they are docked at
the right, beside the palette key, and the others take what room is left; under
``COMPACT_BELOW`` columns the footer also drops its padding, so more of them show.
"""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose keys always show, in this order from the left of the pinned group.
PINNED_ACTIONS: Final = ("help", "quit")
#: Narrower than this, the footer is compact.
COMPACT_BELOW: Final = 120


class VmlabFooter(Footer):
    """A footer whose help and quit keys never scroll or fall off."""

    DEFAULT_CSS = """
    VmlabFooter #footer-pinned {
        dock: right;
        width: auto;
        height: 1;
        border-left: vkey $foreground 20%;
    }
    VmlabFooter #footer-pinned FooterKey.-command-palette {
        dock: none;
        border-left: none;
    }
    """

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        pinned = [w for w in keys
                  if isinstance(w, FooterKey) and w.action in PINNED_ACTIONS]
        pinned.sort(key=lambda w: PINNED_ACTIONS.index(w.action))
        palette = [w for w in keys if w.has_class("-command-palette")]
        rest = [w for w in keys if w not in pinned and w not in palette]
        yield HorizontalGroup(*pinned, *palette, id="footer-pinned")
        yield from rest

    def on_resize(self, event: Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW
