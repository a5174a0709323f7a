"""The help screen: every key of the dashboard, grouped by where it works."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import APP_KEYS, BUILTIN_KEYS
from tui.screens.page_detail import PageDetailScreen
from tui.view_io import FILTER_KEYS
from tui.widgets.event_log import EventLog
from tui.widgets.physmem_map import PhysMemMap


def _section(table: Table, title: str, rows: tuple[tuple[str, str], ...]) -> None:
    table.add_row(Text(title, "bold underline #ffff5f"), "")
    for keys, what in rows:
        table.add_row(Text(keys, "bold #8be9fd"), what)
    table.add_row("", "")


def help_table() -> Table:
    """Every key in one two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    _section(table, "Anywhere", tuple((k.shown, k.help) for k in APP_KEYS) + BUILTIN_KEYS)
    _section(table, "Frame map", PhysMemMap.KEY_HELP)
    _section(table, "Event log", EventLog.KEY_HELP)
    filters = tuple((f"{key}:…", what) for key, what in FILTER_KEYS.items())
    _section(table, "Event filter (/)", (*filters, ("word", "text anywhere in the line"),
                                          ("a,b", "either value (kind:dirty,cow)"),
                                          ("(empty)", "show every event")))
    _section(table, "Tasks tab", (("up / down", "select a task (its VMAs show below)"),
                                  ("walk address + enter", "walk a typed address through "
                                   "the task's page tables; the map jumps to the frame")))
    _section(table, "Page cache tab", (("up / down", "select a file (its radix tree "
                                                     "shows below)"),))
    _section(table, "Page detail", PageDetailScreen.KEY_HELP)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("vmlab keys", "bold"), id="help-title")
            yield Static(help_table(), id="help-table")
