"""The help screen: the help of the tab in view, then every key of the dashboard, grouped by
where it works."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.frame_style import readable
from tui.keys import APP_KEYS, BUILTIN_KEYS
from tui.screens.page_detail import PageDetailScreen
from tui.tab_help import TAB_HELP
from tui.view_io import FILTER_KEYS
from tui.widgets.event_log import EventLog
from tui.widgets.physmem_map import PhysMemMap

#: Styles of section titles and key names (the dark theme's; the screen passes its theme's).
_TITLE_STYLE = "bold underline"
_KEY_STYLE = "bold"


def _section(table: Table, title: str, rows: tuple[tuple[str, str], ...],
             styles: tuple[str, str] = (_TITLE_STYLE, _KEY_STYLE)) -> None:
    table.add_row(Text(title, styles[0]), "")
    for keys, what in rows:
        table.add_row(Text(keys, styles[1]), what)
    table.add_row("", "")


def tab_help_text(tab: str, title_style: str = _TITLE_STYLE) -> Text:
    """The short help of one dashboard tab (``tui.tab_help``), or nothing for another id."""
    text = Text()
    if tab not in TAB_HELP:
        return text
    title, paragraphs = TAB_HELP[tab]
    text.append(title + "\n", title_style)
    for para in paragraphs:
        text.append(para + "\n\n")
    return text


def help_table(styles: tuple[str, str] = (_TITLE_STYLE, _KEY_STYLE)) -> Table:
    """Every key in one two-column table."""
    section = partial(_section, styles=styles)
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    section(table, "Anywhere", tuple((k.shown, k.help) for k in APP_KEYS) + BUILTIN_KEYS)
    section(table, "Frame map", PhysMemMap.KEY_HELP)
    section(table, "Event log", EventLog.KEY_HELP)
    filters = tuple((f"{key}:…", what) for key, what in FILTER_KEYS.items())
    section(table, "Event filter (/)", (*filters, ("word", "text anywhere in the line"),
                                          ("a,b", "either value (kind:dirty,cow)"),
                                          ("(empty)", "show every event")))
    section(table, "Tasks tab", (("up / down", "select a task (its VMAs show below)"),
                                 ("walk address + enter", "walk a typed address through "
                                  "the task's page tables; the map jumps to the frame"),
                                 ("escape", "leave the address box")))
    section(table, "Page cache tab", (("up / down", "select a file (its radix tree "
                                                    "shows below)"),))
    section(table, "Page detail", PageDetailScreen.KEY_HELP)
    return table


def _theme_styles(variables: Mapping[str, str]) -> tuple[str, str]:
    """Title and key styles in the theme's warning and accent colours, made readable on its
    background (``tui.frame_style.readable``)."""
    if variables.get("background", "").startswith("ansi_"):
        return ("bold underline yellow", "bold cyan")
    try:
        bg = Color.parse(variables.get("surface", "#1e1e1e")).with_alpha(1.0)
        fg = Color.parse(variables.get("foreground", "#e0e0e0")).with_alpha(1.0)
        title = readable(Color.parse(variables.get("warning", "#ffa62b")).with_alpha(1.0), bg, fg)
        key = readable(Color.parse(variables.get("accent", "#ffa62b")).with_alpha(1.0), bg, fg)
    except Exception:
        return (_TITLE_STYLE, _KEY_STYLE)
    return (f"bold underline {title.hex6}", f"bold {key.hex6}")


class HelpScreen(ModalScreen[None]):
    """The tab's help and every key; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close"),
    ]

    def __init__(self, tab: str = "") -> None:
        """Args: tab: the dashboard tab in view (its help comes first)."""
        super().__init__()
        self.tab = tab

    def compose(self) -> ComposeResult:
        styles = _theme_styles(self.app.theme_variables)
        with VerticalScroll(id="help-box"):
            yield Static(tab_help_text(self.tab, styles[0]), id="help-tab")
            yield Static(Text("vmlab keys", "bold"), id="help-title")
            yield Static(help_table(styles), id="help-table")
