"""The timeline: where the run is between its first kept moment and the furthest it got.

One line: the step granularity, a bar from the history's first checkpoint to the furthest
event reached, with the checkpoints marked and the current event on it, and the numbers.
Clicking the bar, or left/right/home/end while it has the focus, asks to go to that event
(``Timeline.Seek``); the app seeks the session (scenarios/timeline.py) and redraws.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

#: Characters of the bar: the range, a checkpoint, the current event.
_BAR = "─"
_CHECKPOINT = "┬"
_HERE = "●"
#: Columns of text before and after the bar.
_LABEL_MIN = 12


class Timeline(Widget, can_focus=True):
    """A scrubbable bar of the run's events."""

    DEFAULT_CSS = """
    Timeline { height: 1; width: 100%; padding: 0 1; }
    Timeline:focus { background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "nudge(-1)", "Back 1/50", show=False),
        Binding("right", "nudge(1)", "On 1/50", show=False),
        Binding("home", "ends(0)", "To the first checkpoint", show=False),
        Binding("end", "ends(1)", "To the furthest event", show=False),
    ]

    class Seek(Message):
        """Go to the moment after ``event`` events."""

        def __init__(self, event: int) -> None:
            super().__init__()
            self.event = event

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.first = 0
        self.last = 0
        self.here = 0
        self.inside = False
        self.checkpoints: list[int] = []
        self.granularity = "event"
        self.memory = 0
        self._bar_x = 0
        self._bar_w = 1

    def show(self, *, first: int, last: int, here: int, inside: bool, checkpoints: list[int],
             granularity: str, memory: int) -> None:
        """The history's range (events), where the run is (``inside``: suspended in the
        event after ``here``), the checkpoints' events and their memory (bytes)."""
        self.first, self.last, self.here, self.inside = first, max(last, here), here, inside
        self.checkpoints = checkpoints
        self.granularity = granularity
        self.memory = memory
        self.refresh()

    def _label(self) -> tuple[str, str]:
        where = f"{self.here:,}" + ("+" if self.inside else "")
        left = f"v step {self.granularity:<7} , back  {self.first:,} "
        right = (f" {self.last:,}  at {where}  {len(self.checkpoints)} ckpt "
                 f"{self.memory / (1 << 20):.1f} MiB")
        return left, right

    def render(self) -> Text:
        left, right = self._label()
        width = self.content_size.width
        bar_w = max(1, width - len(left) - len(right))
        self._bar_x = len(left)
        self._bar_w = bar_w
        cells = [_BAR] * bar_w
        for e in self.checkpoints:
            cells[self._column(e)] = _CHECKPOINT
        here = self._column(self.here)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(left, "bold")
        text.append("".join(cells[:here]), "dim")
        text.append(_HERE, "bold reverse" if self.inside else "bold")
        text.append("".join(cells[here + 1:]), "dim")
        text.append(right)
        return text

    def _column(self, event: int) -> int:
        span = max(1, self.last - self.first)
        col = (event - self.first) * (self._bar_w - 1) // span
        return min(max(col, 0), self._bar_w - 1)

    def event_at(self, x: int) -> int:
        """The event under column ``x`` of the widget's content."""
        col = min(max(x - self._bar_x, 0), self._bar_w - 1)
        span = self.last - self.first
        return self.first + (col * span + (self._bar_w - 1) // 2) // max(1, self._bar_w - 1)

    def on_click(self, event: Click) -> None:
        self.post_message(self.Seek(self.event_at(event.x - self.styles.padding.left)))

    def action_nudge(self, direction: int) -> None:
        step = max(1, (self.last - self.first) // 50)
        target = min(max(self.here + direction * step, self.first), self.last)
        self.post_message(self.Seek(target))

    def action_ends(self, which: int) -> None:
        self.post_message(self.Seek(self.last if which else self.first))
