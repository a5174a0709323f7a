"""Every key and action of the dashboard, in one table.

The app's ``BINDINGS``, the help screen and the command palette are all built from
``APP_KEYS``, so a key cannot be bound without being documented, and every action can be
found in the palette (ctrl+p). Widget-local keys (the frame map's cursor, a table's rows) are
declared by the widgets and listed by the help screen from their ``BINDINGS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class KeyAction:
    """One app-level key binding.

    Attributes:
        keys: Textual key names, comma separated ("full_stop,s").
        shown: the keys as the help screen prints them (". s").
        action: the action string (``step``, ``show_tab('disk')``).
        title: the command's name in the palette and footer.
        help: one sentence for the help screen and the palette.
        footer: shown in the footer.
    """

    keys: str
    shown: str
    action: str
    title: str
    help: str
    footer: bool = False


APP_KEYS: Final = (
    KeyAction("space", "space", "toggle_run", "Run/pause",
              "Run the simulation, or pause it.", True),
    KeyAction("full_stop,s", ". s", "step", "Step",
              "Step one unit of the chosen granularity (v: an event at first), then stay "
              "paused.", True),
    KeyAction("comma,b", ", b", "step_back", "Back",
              "Step back one unit of the chosen granularity (replayed from a checkpoint: the "
              "state is exactly the one the run had there)."),
    KeyAction("v", "v", "granularity", "Granularity",
              "Choose what a step is: an event, a fault, a system call, an I/O completion, "
              "the next change of the selected page, or of the selected file's tags."),
    KeyAction("u", "u", "run_until", "Run until",
              "Ask for a check (nr_dirty == 0, pgmajfault > 100) and run until it holds."),
    KeyAction("t", "t", "seek", "Go to event",
              "Ask for an event number and go there, back or forward (the timeline under "
              "the status line: click it, or focus it and use the arrows)."),
    KeyAction("n", "n", "step_n", "Step N",
              "Ask for a number and dispatch that many events."),
    KeyAction("c", "c", "run_to_checkpoint", "To checkpoint",
              "Run until a program records its next checkpoint.", True),
    KeyAction("plus,equals_sign", "+ =", "faster", "Faster",
              "More events per frame (the run speed).", True),
    KeyAction("minus", "-", "slower", "Slower",
              "Fewer events per frame.", True),
    KeyAction("g", "g", "goto_time", "Go to time",
              "Ask for a simulated time (2s, 150ms, +500ms) and run until it."),
    KeyAction("S", "S", "save_snapshot", "Save snapshot",
              "Save the whole machine and kernel to a snapshot file."),
    KeyAction("R", "R", "save_report", "Save snapshot and report",
              "Save a snapshot and write its bug report (FILE.md) beside it."),
    KeyAction("L", "L", "load_snapshot", "Load snapshot",
              "Open a snapshot file paused at its event, with its expectations as they "
              "stood."),
    KeyAction("o", "o", "open_scenario", "Open scenario",
              "Pick a built-in scenario (or type a .toml path) and boot it."),
    KeyAction("slash", "/", "filter_events", "Filter events",
              "Filter the event log: kind:, task:, file:, frame: or words.", True),
    KeyAction("1", "1", "show_tab('page')", "Page tab",
              "Show the page inspector (struct page, reverse map, bytes)."),
    KeyAction("2", "2", "show_tab('tasks')", "Tasks tab",
              "Show the tasks, their VMAs and a page-table walk."),
    KeyAction("3", "3", "show_tab('cache')", "Page cache tab",
              "Show the files and one file's radix tree with its tags."),
    KeyAction("4", "4", "show_tab('disk')", "Disk tab",
              "Show the disk head, queue and requests by sector over time."),
    KeyAction("5", "5", "show_tab('stats')", "Counters tab",
              "Show the counters over simulated time (enter on a row plots it) and the "
              "vmstat table."),
    KeyAction("6", "6", "show_tab('events')", "Events tab",
              "Show the event log."),
    KeyAction("7", "7", "show_tab('story')", "Story tab",
              "Show the scenario's description, its story so far and the expectations live."),
    KeyAction("r", "r", "results", "Results",
              "Show the results: every expectation with its detail and the run's headline "
              "figures (at the end: decided; before: as they stand)."),
    KeyAction("8", "8", "show_tab('proc')", "/proc tab",
              "Show /proc/meminfo, vmstat, a task's maps and status, and a census of struct "
              "page flags, computed from the model as 2.6.6 prints them."),
    KeyAction("question_mark,f1", "? F1", "help", "Help",
              "Show this help: every key.", True),
    KeyAction("q", "q", "quit", "Quit", "Leave vmlab.", True),
)

#: Keys Textual provides that the help screen lists too: (keys, what they do).
BUILTIN_KEYS: Final = (
    ("ctrl+p", "Command palette: every action by name."),
    ("tab / shift+tab", "Move focus to the next / previous pane."),
    ("escape", "Close a dialog, the help or the page detail."),
)
