"""What a snapshot opened at: the file, the event and time it was saved at, and each
expectation as it stood then (decided at a checkpoint already hit, or still open).

Shown over the dashboard when ``vmlab tui FILE`` or ``L`` opens a snapshot, so whoever opens
a bug report sees where the run was before anything moves; escape or enter closes it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from scenarios.behaviour import behaviour_notice
from scenarios.session import Session
from scenarios.standing import FAIL, PASS, expectations_so_far, summary
from tui.view_io import fmt_time

_OUTCOME_STYLE = {PASS: "bold green", FAIL: "bold red"}


def opened_table(session: Session, path: str, running: bool) -> Table:
    """The snapshot's place and its expectations, as one table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    spec = session.kernel_spec
    table.add_row(Text("file", "bold"), path)
    table.add_row(Text("scenario", "bold"),
                  f"{session.scenario.name}, kernel {spec.profile} (writeback={spec.writeback}, "
                  f"rmap={spec.rmap}), seed {session.seed}")
    table.add_row(Text("saved at", "bold"),
                  f"event {session.events:,}, {fmt_time(session.sim_time_ns)} simulated")
    table.add_row(Text("now", "bold"),
                  "running" if running else "paused here: space runs, . steps one event")
    if session.story_text:
        table.add_row(Text("story", "bold"), Text(" ".join(session.story_text.split()),
                                                  "italic"))
    notice = behaviour_notice(session.behaviour_version, "this snapshot")
    if notice is not None:
        table.add_row(Text("note", "bold yellow"), notice)
    standing = expectations_so_far(session)
    table.add_row(Text("expectations", "bold"), summary(standing))
    for s in standing:
        table.add_row(Text(f"  {s.outcome}", _OUTCOME_STYLE.get(s.outcome, "dim")),
                      f"{s.name}: {s.detail}")
    return table


class SnapshotOpenedScreen(ModalScreen[None]):
    """Where the opened snapshot stands; escape or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "app.pop_screen", "Close"),
    ]

    def __init__(self, session: Session, path: str, running: bool = False) -> None:
        super().__init__()
        self.session = session
        self.path = path
        self.running = running

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="opened-box"):
            yield Static(Text("snapshot opened (escape closes)", "bold"), id="opened-title")
            yield Static(opened_table(self.session, self.path, self.running), id="opened-table")
