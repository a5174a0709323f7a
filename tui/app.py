"""The vmlab dashboard: a Textual app that runs a scenario and shows the machine live.

The app owns one ``Session`` (the same object a script drives), a ``Recorder`` of its history
and a ``SimDriver`` that runs it in slices. A timer on the main thread runs one slice per
frame, then copies the numbers the status line shows into reactives and asks the dashboard
to redraw what is visible. Nothing touches the model from another thread, and
the UI changes the model only through Session commands: run, step, and snapshot save/load.

Keys and actions come from ``tui.keys.APP_KEYS``; the command palette (ctrl+p) lists them all.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from functools import partial
from types import ModuleType
from typing import ClassVar, Final

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import var
from textual.screen import Screen

from scenarios.flavour import flavour as model_flavour
from scenarios.library import is_path
from scenarios.loader import ScenarioError
from scenarios.series import DASHBOARD_INTERVAL_NS
from scenarios.session import STOP_END, STOP_TIME, Session, SessionError
from scenarios.standing import FAIL, OPEN, PASS, expectations_so_far
from scenarios.units import UnitError, parse_duration, parse_int
from tui.driver import (
    DEFAULT_SPEED_INDEX,
    MODE_CHECKPOINT,
    MODE_EVENTS,
    MODE_PAUSED,
    MODE_RUN,
    MODE_TIME,
    SPEEDS,
    STOP_CHECKPOINT_HIT,
    STOP_EVENTS_DONE,
    SimDriver,
)
from tui.gcpace import GcPacer
from tui.keys import APP_KEYS
from tui.recorder import Recorder
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.page_detail import PageDetailScreen
from tui.screens.prompts import InputPrompt, ScenarioPicker
from tui.screens.results import Results, ResultsScreen, final_results, results_so_far
from tui.screens.snapshot_opened import SnapshotOpenedScreen
from tui.travel import TravelActions
from tui.view import kernel_label
from tui.view_io import EventRec, fmt_time

#: Seconds between frames (the slice timer).
TICK_S: Final = 0.05
#: Wall-clock seconds one slice may spend running events.
SLICE_BUDGET_S: Final = 0.012
#: Step N runs at most this many events at once; more run over several frames.
_STEP_NOW_MAX: Final = 10
#: Trace records a freshly loaded session shows from its ring.
_RESTORED_TRACE: Final = 1024

#: Palette-only commands: (action, title, help).
PALETTE_EXTRA: Final = (
    ("map_zoom(-1)", "Map: zoom in", "Fewer frames per cell."),
    ("map_zoom(1)", "Map: zoom out", "More frames per cell."),
    ("map_fit", "Map: zoom to fit", "Fit the whole machine in the map."),
    ("page_detail", "Page detail", "Full view of the frame under the cursor, all 4 KiB."),
)


def palette_commands() -> list[tuple[str, str, str]]:
    """Every command of the palette: (title, action, help)."""
    out = [(k.title, k.action, k.help) for k in APP_KEYS]
    out += [(title, action, text) for action, title, text in PALETTE_EXTRA]
    return out


class VmlabCommands(Provider):
    """Every dashboard action for the command palette."""

    def _hits(self) -> Iterator[tuple[str, str, str]]:
        yield from palette_commands()

    async def discover(self) -> Hits:
        for title, action, text in self._hits():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, text in self._hits():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action),
                          help=text)


def _snapshot_module() -> ModuleType | None:
    """``scenarios.snapshot`` if this build has it."""
    try:
        return importlib.import_module("scenarios.snapshot")
    except ModuleNotFoundError:
        return None


NO_SNAPSHOTS: Final = "snapshots are not available in this build"
NO_FILES: Final = "this dashboard is served to a browser and cannot read or write files"


def _snapshot_errors(mod: ModuleType) -> tuple[type[BaseException], ...]:
    """What saving or loading may raise for a bad file or path (reported, not crashed on)."""
    own = getattr(mod, "SnapshotError", None)
    errors: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError, TypeError)
    if isinstance(own, type) and issubclass(own, BaseException):
        errors += (own,)
    return errors


class VmlabApp(TravelActions, App[None]):
    """The dashboard."""

    CSS_PATH = "vmlab.tcss"
    TITLE = "vmlab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.keys, k.action, k.title, show=k.footer, key_display=k.shown.split()[0])
        for k in APP_KEYS
    ]
    COMMANDS = App.COMMANDS | {VmlabCommands}

    # Plain ``var``s: the status line watches them; a changed value must not repaint the
    # whole screen (``reactive`` would, ten times a second).
    #: The driver's mode ("paused", "running", "to checkpoint", ...).
    mode: var[str] = var(MODE_PAUSED)
    #: Events dispatched since boot.
    events: var[int] = var(0)
    #: Simulated time (ns).
    sim_time_ns: var[int] = var(0)
    #: Events per frame.
    speed: var[int] = var(SPEEDS[DEFAULT_SPEED_INDEX])
    #: The last checkpoint hit, in words ("" before the first).
    last_checkpoint: var[str] = var("")
    #: True when the scenario can run no further.
    ended: var[bool] = var(False)
    #: Gauges for the status line.
    free_pages: var[int] = var(0)
    dirty_pages: var[int] = var(0)
    writeback_pages: var[int] = var(0)
    #: The expectations as they stand: (passed, failed, pending).
    expect_counts: var[tuple[int, int, int]] = var((0, 0, 0))

    def __init__(self, session: Session, *, running: bool = True,
                 flavour: str | None = None, tick: bool = True,
                 opened_from: str | None = None, files: bool = True) -> None:
        """Build the dashboard around a booted (or restored) session.

        Args:
            session: the session to show and drive.
            running: start running (otherwise paused).
            flavour: text for the top bar (None: "compiled" or "interpreted" as imported).
            tick: run the frame timer (tests that drive every step themselves pass False).
            opened_from: the snapshot file the session was restored from: the event log
                starts with the records the snapshot kept, and a dialog says where the
                snapshot stands (its event, time and expectations).
            files: may read and write files (snapshots, scenario files); a dashboard served
                to browsers runs on someone else's machine and may not.
        """
        super().__init__()
        self.session = session
        self.opened_from = opened_from
        self.files = files
        trace_from = 0
        if opened_from is not None:
            trace_from = max(0, session.kernel.trace.next_seq - _RESTORED_TRACE)
        self.recorder = Recorder(session.kernel, session.scenario.duration_ns,
                                 trace_from=trace_from, sampled=session.series)
        self.driver = SimDriver(session, self.recorder)
        self.start_running = running
        self.flavour = model_flavour() if flavour is None else flavour
        self.use_timer = tick
        self.dashboard = DashboardScreen()
        #: Wall-clock milliseconds of the last slice (shown by nothing; for tests and tuning).
        self.last_slice_ms = 0.0
        self.last_step_n = "100"
        #: Collects garbage between frames, never inside a slice (only with the timer on).
        self.gc_pacer = GcPacer()
        #: The results decided when the run ended (None before).
        self.final: Results | None = None
        self._counted: tuple[int, int, bool] | None = None

    def get_default_screen(self) -> Screen[None]:
        return self.dashboard

    def on_ready(self) -> None:
        """The dashboard is composed: fill it in and start the frame timer."""
        self.recorder.drain()
        self.start_history()
        self.dashboard.reset_session(self.session.kernel, self.recorder, self._labels())
        self._after_change([])
        if self.use_timer:
            self.gc_pacer.start()
            self.set_interval(TICK_S, self.tick)
        if self.start_running and not self.driver.ended:
            self.driver.start(MODE_RUN)
            self.mode = self.driver.mode
        if self.opened_from is not None:
            self.push_screen(SnapshotOpenedScreen(self.session, self.opened_from,
                                                  running=self.driver.mode != MODE_PAUSED))

    def _labels(self) -> tuple[str, str, int, str]:
        s = self.session
        return (s.scenario.name, kernel_label(s.kernel_spec), s.seed, self.flavour)

    # ---- the frame loop -------------------------------------------------------------------

    def on_unmount(self) -> None:
        self.gc_pacer.stop()

    def tick(self) -> None:
        """One frame: a slice of the simulation, then the views, then the young garbage."""
        if self.driver.mode == MODE_PAUSED or not self.dashboard.live:
            self.gc_pacer.after_frame()
            return
        t0 = time.perf_counter()
        result = self.driver.run_slice(SLICE_BUDGET_S)
        self.last_slice_ms = (time.perf_counter() - t0) * 1e3
        self._after_change(self.recorder.drain())
        if result.stop:
            self._announce(result.stop)
        self.gc_pacer.after_frame()

    def _after_change(self, new_events: list[EventRec] | None = None) -> None:
        """Copy the numbers into reactives and redraw the views."""
        s = self.session
        k = s.kernel
        self.events = s.events
        self.sim_time_ns = s.sim_time_ns
        self.mode = self.driver.mode
        self.speed = self.driver.speed
        self.ended = self.driver.ended
        self.free_pages = k.pgdat.zone.free_pages
        self.dirty_pages = k.vmstat.nr_dirty
        self.writeback_pages = k.vmstat.nr_writeback
        if s.checkpoints:
            cp = s.checkpoints[-1]
            self.last_checkpoint = f"{cp.name} (pid {cp.pid}, {fmt_time(cp.time_ns)})"
        else:
            self.last_checkpoint = ""
        new = self.recorder.drain() if new_events is None else new_events
        self.dashboard.refresh_model(k, self.recorder, new,
                                     force=self.driver.mode == MODE_PAUSED)
        self.dashboard.refresh_story(s, self.final.expectations if self.final else None)
        self._count_expectations()
        self.refresh_timeline()
        if isinstance(self.screen, PageDetailScreen):
            self.screen.refresh_model(k)

    def _announce(self, stop: str) -> None:
        s = self.session
        now = fmt_time(s.sim_time_ns)
        if stop == STOP_END:
            # no toast: it would cover the results screen, which says where the run stopped
            self.action_results()
        elif stop == STOP_CHECKPOINT_HIT:
            self.notify(f"checkpoint {self.last_checkpoint}", title="checkpoint")
        elif stop == STOP_TIME:
            self.notify(f"paused at {now}: the next event is after "
                        f"{fmt_time(self.driver.target_ns)}", title="time")
        elif stop == STOP_EVENTS_DONE:
            self.notify(f"paused after event {s.events:,}", title="step")

    def _count_expectations(self) -> None:
        """The status line's pass / FAIL / pending counts (redone when a checkpoint is hit,
        the run ends or the session changes)."""
        s = self.session
        key = (id(s), len(s.checkpoints), self.final is not None)
        if key == self._counted:
            return
        self._counted = key
        standing = self.final.expectations if self.final else expectations_so_far(s)
        outcomes = [x.outcome for x in standing]
        self.expect_counts = (outcomes.count(PASS), outcomes.count(FAIL), outcomes.count(OPEN))

    def action_results(self) -> None:
        """Show the results: decided at the end once the run has ended, else as they stand."""
        if isinstance(self.screen, ResultsScreen):
            return
        s = self.session
        if self.driver.ended or s.powered_off:
            if self.final is None:
                self.final = final_results(s)
                self.dashboard.refresh_story(s, self.final.expectations)
                self._count_expectations()
            results = self.final
        else:
            results = results_so_far(s)
        self.push_screen(ResultsScreen(s, results))

    def step_events(self, n: int) -> int:
        """Pause and dispatch up to ``n`` events now; returns how many ran."""
        self.driver.pause()
        result = self.driver.step(n)
        self._after_change()
        if result.ran < n:
            self._announce(STOP_END)
        return result.ran

    # ---- actions: running --------------------------------------------------------------------

    def action_toggle_run(self) -> None:
        """Run, or pause."""
        if self.driver.mode != MODE_PAUSED:
            self.driver.pause()
        elif self.driver.ended:
            self.notify("the scenario has ended: o opens another, L loads a snapshot",
                        title="end")
        else:
            self.driver.start(MODE_RUN)
        self.mode = self.driver.mode

    def action_step(self) -> None:
        """One event, or one unit of the granularity chosen (tui/travel.py)."""
        if self.granularity == "event":
            self.step_events(1)
        else:
            self.action_fine_step()

    def action_step_n(self) -> None:
        """Ask how many events to run."""
        self.push_screen(InputPrompt("step how many events?", "a number, e.g. 100 or 10_000",
                                     self.last_step_n), self._step_n_answer)

    def _step_n_answer(self, answer: str | None) -> None:
        if not answer:
            return
        try:
            n = parse_int(answer.strip(), "event count")
        except UnitError as exc:
            self.notify(str(exc), severity="error", title="step")
            return
        self.last_step_n = answer.strip()
        if n <= 0:
            return
        if n <= _STEP_NOW_MAX:
            self.step_events(n)
            return
        self.driver.start(MODE_EVENTS, events=n)
        self.mode = self.driver.mode

    def action_run_to_checkpoint(self) -> None:
        """Run until a program records its next checkpoint."""
        if not self.session.checkpoint_names:
            self.notify("this scenario has no checkpoints", title="checkpoint")
            return
        if self.driver.ended:
            self.notify("the scenario has ended", title="checkpoint")
            return
        self.driver.start(MODE_CHECKPOINT)
        self.mode = self.driver.mode

    def action_faster(self) -> None:
        self.driver.faster()
        self.speed = self.driver.speed

    def action_slower(self) -> None:
        self.driver.slower()
        self.speed = self.driver.speed

    def action_goto_time(self) -> None:
        """Ask for a simulated time and run until it."""
        self.push_screen(InputPrompt(
            f"jump to simulated time (now {fmt_time(self.session.sim_time_ns)})",
            "absolute (2s, 150ms) or relative (+500ms)", "+100ms"), self._goto_answer)

    def _goto_answer(self, answer: str | None) -> None:
        if not answer or not answer.strip():
            return
        text = answer.strip()
        try:
            ns = parse_duration(text.lstrip("+"))
        except UnitError as exc:
            self.notify(str(exc), severity="error", title="time")
            return
        now = self.session.sim_time_ns
        target = now + ns if text.startswith("+") else ns
        if target <= now:
            self.notify(f"{fmt_time(target)} is already past (now {fmt_time(now)}); "
                        "time only runs forward: load a snapshot to go back",
                        severity="warning", title="time")
            return
        self.driver.start(MODE_TIME, target_ns=target)
        self.mode = self.driver.mode

    # ---- actions: sessions -----------------------------------------------------------------

    def set_session(self, session: Session) -> None:
        """Show and drive another session (paused), keeping the speed."""
        k = session.kernel
        speed = self.driver.speed_index
        self.session = session
        self.final = None
        self.recorder = Recorder(k, session.scenario.duration_ns,
                                 trace_from=max(0, k.trace.next_seq - _RESTORED_TRACE),
                                 sampled=session.series)
        self.driver = SimDriver(session, self.recorder)
        self.driver.speed_index = speed
        self.gc_pacer.full()  # the previous session's model is garbage now
        self.start_history()
        self.dashboard.reset_session(k, self.recorder, self._labels())
        self._after_change([])

    def action_open_scenario(self) -> None:
        """Pick a built-in scenario (or a file) and boot it."""
        from scenarios.library import list_builtin

        try:
            builtins = list_builtin()
        except ScenarioError as exc:
            self.notify(str(exc), severity="error", title="scenarios")
            return
        self.push_screen(ScenarioPicker(builtins, self.session.scenario.name),
                         self._open_answer)

    def _open_answer(self, answer: str | None) -> None:
        if not answer:
            return
        if not self.files and is_path(answer.strip()):
            self.notify(f"{answer.strip()}: {NO_FILES}; pick a built-in scenario",
                        severity="warning", title="open")
            return
        try:
            session = Session.load(answer, series_interval_ns=DASHBOARD_INTERVAL_NS)
        except (ScenarioError, SessionError, OSError) as exc:
            self.notify(str(exc), severity="error", title="open")
            return
        self.set_session(session)
        self.notify(f"booted {session.scenario.name} (paused; space runs it)", title="open")

    def action_save_snapshot(self, report: bool = False) -> None:
        """Ask for a file name and save a snapshot there (``report``: and its bug report,
        FILE.md, beside it)."""
        if not self.files:
            self.notify(NO_FILES, severity="warning", title="snapshot")
            return
        if _snapshot_module() is None:
            self.notify(NO_SNAPSHOTS, severity="warning", title="snapshot")
            return
        self.driver.pause()
        self.mode = self.driver.mode
        default = f"{self.session.scenario.name}-{self.session.events}.vmsnap"
        title = "save a snapshot and its report to" if report else "save a snapshot to"
        hint = "a file name; the report goes beside it as FILE.md" if report else "a file name"
        self.push_screen(InputPrompt(title, hint, default),
                         partial(self._save_answer, report=report))

    def action_save_report(self) -> None:
        """Save a snapshot and write its bug report beside it."""
        self.action_save_snapshot(report=True)

    def _save_answer(self, answer: str | None, report: bool = False) -> None:
        mod = _snapshot_module()
        if not answer or mod is None:
            return
        path = answer.strip()
        try:
            mod.save_snapshot(self.session, path)
        except _snapshot_errors(mod) as exc:
            self.notify(f"cannot save {path}: {exc}", severity="error", title="snapshot")
            return
        if not report:
            self.notify(f"saved {path} at event {self.session.events:,}", title="snapshot")
            return
        from scenarios.snapshot.report import ReportError, write_report_beside

        try:
            written = write_report_beside(path)
        except ReportError as exc:
            self.notify(f"saved {path}; cannot write its report: {exc}", severity="error",
                        title="snapshot")
            return
        self.notify(f"saved {path} at event {self.session.events:,}; report: {written}",
                    title="snapshot")

    def action_load_snapshot(self) -> None:
        """Ask for a snapshot file and replace the session with it."""
        if not self.files:
            self.notify(NO_FILES, severity="warning", title="snapshot")
            return
        if _snapshot_module() is None:
            self.notify(NO_SNAPSHOTS, severity="warning", title="snapshot")
            return
        self.push_screen(InputPrompt("load a snapshot from", "a snapshot file", ""),
                         self._load_answer)

    def _load_answer(self, answer: str | None) -> None:
        mod = _snapshot_module()
        if not answer or mod is None:
            return
        path = answer.strip()
        try:
            session = mod.load_snapshot(path)
        except _snapshot_errors(mod) as exc:
            self.notify(f"cannot load {path}: {exc}", severity="error", title="snapshot")
            return
        if not isinstance(session, Session):
            self.notify(f"{path}: load_snapshot did not return a session", severity="error")
            return
        self.set_session(session)
        self.push_screen(SnapshotOpenedScreen(session, path))

    # ---- actions: views ----------------------------------------------------------------------

    def action_filter_events(self) -> None:
        if self.screen is not self.dashboard:
            self.pop_screen()
        self.dashboard.open_filter()

    def action_show_tab(self, tab: str) -> None:
        if self.screen is self.dashboard:
            self.dashboard.show_tab(tab)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            tab = self.dashboard.active_tab if self.screen is self.dashboard else ""
            self.push_screen(HelpScreen(tab))

    def action_page_detail(self) -> None:
        if self.screen is self.dashboard:
            self.push_screen(PageDetailScreen(self.session.kernel, self.dashboard.pfn))

    def action_map_zoom(self, step: int) -> None:
        from tui.widgets.physmem_map import PhysMemMap

        self.dashboard.query_one("#map", PhysMemMap).action_zoom(step)
        self.dashboard.refresh_model(self.session.kernel, self.recorder, [], force=True)

    def action_map_fit(self) -> None:
        from tui.widgets.physmem_map import PhysMemMap

        self.dashboard.query_one("#map", PhysMemMap).action_fit()
        self.dashboard.refresh_model(self.session.kernel, self.recorder, [], force=True)
