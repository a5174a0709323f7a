"""The results: every expectation with its outcome and detail, the headline figures of
``vmlab run``'s summary (for the race scenarios, the acknowledged bytes a power cut lost)
and where the story ended.

Shown over the dashboard when the run ends; ``r`` shows it again (before the end, with the
expectations as they stand and the figures now). Escape or enter closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from scenarios.session import Session
from scenarios.standing import (
    FAIL,
    Standing,
    expectations_at_end,
    expectations_so_far,
    headline_figures,
)
from tui.widgets.story_panel import expectation_rows, outcome_summary


@dataclass(frozen=True)
class Results:
    """What the results screen shows; ``final``: decided at the end of the run."""

    final: bool
    expectations: list[Standing]
    figures: list[tuple[str, str]]
    story: str


def final_results(session: Session) -> Results:
    """The run has ended: every expectation decided, as ``vmlab run`` decides it (the data
    oracle and the invariant checker run once)."""
    metrics = session.metrics()
    return Results(True, expectations_at_end(session, metrics),
                   headline_figures(session, metrics), session.story_text)


def results_so_far(session: Session) -> Results:
    """Before the end: the expectations as they stand and the figures now (without the
    oracle and the checker, which only the end runs)."""
    metrics = session._metrics(oracle=False, checker=False)
    return Results(False, expectations_so_far(session), headline_figures(session, metrics),
                   session.story_text)


def results_table(session: Session, results: Results) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    failed = any(s.outcome == FAIL for s in results.expectations)
    verdict = outcome_summary(results.expectations)
    style = "bold red" if failed else "bold green" if results.final else "bold"
    lost = dict(results.figures).get("acked_bytes_lost", "0")
    if lost != "0":  # the race scenarios' outcome, first: on a small terminal it is on screen
        table.add_row(Text("data lost", "bold red"),
                      Text(f"{lost} acknowledged bytes lost at the power cut", "bold red"))
    table.add_row(Text("expectations", "bold"), Text(verdict, style))
    exp = Table.grid(padding=(0, 1))
    exp.add_column(no_wrap=True)
    exp.add_column()
    expectation_rows(exp, results.expectations)
    table.add_row("", exp)
    table.add_row("", "")
    for name, value in results.figures:
        lost = name == "acked_bytes_lost" and value != "0"
        table.add_row(Text(name, "bold red" if lost else "bold"),
                      Text(value, "bold red" if lost else ""))
    if results.story:
        table.add_row("", "")
        table.add_row(Text("story", "bold"), Text(" ".join(results.story.split()), "italic"))
    return table


class ResultsScreen(ModalScreen[None]):
    """The results of the run (or the standing so far); escape or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,r", "app.pop_screen", "Close"),
    ]

    def __init__(self, session: Session, results: Results) -> None:
        super().__init__()
        self.session = session
        self.results = results

    def compose(self) -> ComposeResult:
        s = self.session
        spec = s.kernel_spec
        title = "results" if self.results.final else "results so far (the run goes on)"
        with VerticalScroll(id="results-box"):
            yield Static(Text(f"{title}: {s.scenario.name}, kernel {spec.profile}, seed "
                              f"{s.seed} (escape closes, r shows it again)", "bold"),
                         id="results-title")
            yield Static(results_table(s, self.results), id="results-table")
