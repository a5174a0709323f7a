"""The story on screen: the current story text under the status line, and a Story tab with
the scenario's description, every text shown so far and the expectations as they stand.

The scenario's ``[[story]]`` texts say what to watch and why it matters
(``scenarios.story``); the expectations are shown live: pending until their checkpoint (or
the end) comes, then pass or FAIL with the detail ``vmlab run`` gives
(``scenarios.standing``). Both are redrawn only when something they show has changed.
"""

from __future__ import annotations

from typing import Final

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from scenarios.session import Session
from scenarios.standing import FAIL, OPEN, PASS, Standing, expectations_so_far, summary
from tui.frame_style import FramePalette, app_palette, readable_text
from tui.view_io import fmt_time

#: How each outcome is shown: word and style ("pending": not decided yet).
OUTCOME_SHOWN: Final = {PASS: ("pass", "bold green"), FAIL: ("FAIL", "bold red"),
                        OPEN: ("pending", "dim")}


def outcome_text(outcome: str) -> Text:
    word, style = OUTCOME_SHOWN.get(outcome, (outcome, ""))
    return Text(f"{word:<7}", style)


def outcome_summary(standing: list[Standing]) -> str:
    """"1 passed, 2 pending" (an open expectation is shown as pending)."""
    return summary(standing).replace(" open", " pending")


def expectation_rows(table: Table, standing: list[Standing]) -> None:
    """One row per expectation: outcome, then its name and detail."""
    for s in standing:
        line = Text(s.name, "bold" if s.outcome != OPEN else "")
        line.append(f"\n{s.detail}", "dim")
        table.add_row(outcome_text(s.outcome), line)


class StoryLine(Widget):
    """The current story text (the scenario's description until the first one comes).

    Wrapped to the line's width and kept to ``max_lines`` lines (3; 2 on a short terminal):
    a text that does not fit ends in "… 7 Story" (the Story tab shows it whole), rather than
    being cut mid-sentence with no sign that more follows.
    """

    DEFAULT_CSS = """
    StoryLine { height: auto; width: 100%; padding: 0 1; background: $boost; color: $text; }
    """

    #: Lines the text may take; the dashboard sets 2 on a short terminal.
    max_lines: reactive[int] = reactive(3, layout=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content = Text("")

    def show(self, session: Session) -> None:
        text = Text()
        if session.story_text:
            text.append("▸ ", "bold #ffff5f")
            text.append(" ".join(session.story_text.split()))
        elif session.scenario.description:
            text.append(session.scenario.description, "italic")
        else:
            text.append(f"{session.scenario.name}: no story", "dim")
        text = readable_text(text, app_palette(self.app))
        if text == self.content:
            return
        self.content = text
        self._fit()

    def _fit(self) -> None:
        """Set the height to the lines the text takes now. A refresh with layout alone did
        not always lay the line out again in a real terminal (it stayed one line high)."""
        width = self.content_region.width
        if width > 0:
            self.styles.height = len(self._lines(width))
        self.refresh(layout=True)

    def on_resize(self) -> None:
        self._fit()

    def watch_max_lines(self) -> None:
        self._fit()

    def _lines(self, width: int) -> list[Text]:
        """The text wrapped at ``width``, cut to ``max_lines`` with a pointer to the tab."""
        if width <= 0:
            return [self.content]
        lines = list(self.content.wrap(self.app.console, width))
        if len(lines) <= self.max_lines:
            return lines
        more = Text(" … 7 Story", "dim")
        kept = lines[:self.max_lines]
        last = kept[-1]
        last.rstrip()
        room = width - more.cell_len
        if last.cell_len > room:
            last.truncate(max(0, room))
        kept[-1] = Text.assemble(last, more)
        return kept

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Text:
        return Text("\n").join(self._lines(self.content_region.width))


def story_view(session: Session, standing: list[Standing],
               palette: FramePalette | None = None) -> Group:
    """The Story tab's content: description, the story so far, the expectations
    (``palette``: the theme's, so the heading stays readable on a light theme)."""
    scn = session.scenario
    parts: list[Text | Table] = []
    head = Text()
    head.append(scn.name, "bold #ffff5f")
    if scn.description:
        head.append(f"\n{scn.description}", "italic")
    if palette is not None:
        head = readable_text(head, palette)
    parts.append(head)
    parts.append(Text(f"\nstory ({len(session.story)} of {len(scn.story)} shown)",
                      "bold underline"))
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, style="dim")
    table.add_column()
    for n, hit in enumerate(session.story):
        current = n == len(session.story) - 1
        table.add_row(fmt_time(hit.time_ns),
                      Text(" ".join(hit.text.split()), "bold" if current else ""))
    if not session.story:
        table.add_row("", Text("nothing yet" if scn.story else "this scenario has no story",
                               "dim"))
    parts.append(table)
    parts.append(Text(f"\nexpectations: {outcome_summary(standing)}", "bold underline"))
    exp = Table.grid(padding=(0, 1))
    exp.add_column(no_wrap=True)
    exp.add_column()
    expectation_rows(exp, standing)
    parts.append(exp)
    return Group(*parts)


class StoryPanel(VerticalScroll):
    """The Story tab: redrawn when a story text comes, a checkpoint is hit or the run ends."""

    DEFAULT_CSS = """
    StoryPanel { height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)
        self._shown: tuple[int, int, int, bool, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="story-body")

    def refresh_model(self, session: Session, final: list[Standing] | None) -> None:
        """Redraw if the story, the checkpoints or the outcome changed (``final``: the
        expectations decided at the end, once the run has ended)."""
        palette = app_palette(self.app)
        key = (id(session), len(session.story), len(session.checkpoints), final is not None,
               palette.background)
        if key == self._shown:
            return
        self._shown = key
        standing = final if final is not None else expectations_so_far(session)
        self.query_one("#story-body", Static).update(story_view(session, standing, palette))
