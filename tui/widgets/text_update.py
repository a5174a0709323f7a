"""Updating a Static without needless work: skip equal text, relayout only on a new height.

``Static.update`` asks for a layout of the whole screen by default, which at ten frames a
second costs more than the simulation; most of the dashboard's texts keep their height from
one frame to the next. The new text's height, wrapped at the widget's width, is compared with
the height the widget has now.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def wrapped_height(widget: Static, content: object) -> int:
    """Lines ``content`` takes in ``widget`` at its current width (-1 when unknown)."""
    width = widget.content_region.width
    if width <= 0 or not widget.is_mounted:
        return -1
    text = content if isinstance(content, Text) else Text(str(content))
    return len(text.wrap(widget.app.console, width))


def update_text(widget: Static, text: Text | str, fixed: bool = False) -> None:
    """Show ``text`` in ``widget``.

    Args:
        widget: the Static (or Label).
        text: the new content.
        fixed: the widget's size never depends on its text (one line, fixed width).
    """
    old = widget.content
    if isinstance(old, type(text)) and old == text:
        return
    if fixed:
        widget.update(text, layout=False)
        return
    after = wrapped_height(widget, text)
    # compare with the height the widget has now: its last layout may predate the old text
    widget.update(text, layout=after < 0 or after != widget.content_region.height)
