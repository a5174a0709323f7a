"""The main screen: the frame map and legend on the left, the views in tabs on the right.

Layout (app layout lives in vmlab.tcss): the top bar names the scenario and kernel, the status
line shows the run. Wide terminals (``-wide``) also get an event log docked under the body;
narrow ones (``-narrow``) give the map less room. The app calls ``refresh_model`` after every
slice; the screen redraws the map (only rows that changed) and only the panel that is shown.
"""

from __future__ import annotations

import time
from typing import Final

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Input, Label, TabbedContent, TabPane

from kernelmodel.inspect.frame_state import vl_frame_state_counts, vl_frame_states
from kernelmodel.kernel.kernel import Kernel
from scenarios.session import Session
from scenarios.standing import Standing
from tui.messages import FrameClicked, FrameOpened, FrameSelected, MapZoomed, ShowFrame
from tui.recorder import Recorder
from tui.view import frame_bytes, page_info
from tui.view_io import EventFilter, EventRec
from tui.widgets.disk_view import DiskPanel
from tui.widgets.event_log import EventLog
from tui.widgets.footer import VmlabFooter
from tui.widgets.page_cache_tree import PageCachePanel
from tui.widgets.page_inspector import PageInspector
from tui.widgets.physmem_map import MapLegend, PhysMemMap
from tui.widgets.proc_panel import ProcPanel
from tui.widgets.status_bar import StatusBar, TopBar
from tui.widgets.story_panel import StoryLine, StoryPanel
from tui.widgets.tasks import TasksPanel
from tui.widgets.text_update import update_text
from tui.widgets.timeline import Timeline
from tui.widgets.vmstat_panel import VmstatPanel

#: Tab ids in order, with their labels.
TABS: Final = (("page", "Page"), ("tasks", "Tasks"), ("cache", "Cache"), ("disk", "Disk"),
               ("stats", "Stats"), ("events", "Events"), ("story", "Story"), ("proc", "/proc"))
#: The widget each tab's key focuses (the map for the page tab: it drives the inspector).
TAB_FOCUS: Final = {"page": "#map", "tasks": "#task-table", "cache": "#file-table",
                    "disk": "#disk-panel", "stats": "#vm-table", "events": "#log-tab",
                    "story": "#story-panel", "proc": "#proc-meminfo"}
#: A terminal at least this wide and tall docks an event log under the body.
WIDE_COLS: Final = 140
WIDE_ROWS: Final = 40
NARROW_COLS: Final = 100
#: A terminal less tall than this shows two lines of the story (the Story tab has it all).
SHORT_ROWS: Final = 32
#: Recompute the frame states at most this often while running, if computing them is slow.
_MIN_STATES_PERIOD_S: Final = 0.1


class DashboardScreen(Screen[None]):
    """Map, legend, tabs, and (wide terminals) a docked event log."""

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.pfn = 0
        self._states = b""
        self._states_events = -1
        self._states_at = 0.0
        self._states_cost = 0.0
        self._kernel: Kernel | None = None
        self._recorder: Recorder | None = None
        self._logs: list[EventLog] = []
        self._map: PhysMemMap | None = None
        self._session: Session | None = None
        self._final: list[Standing] | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield StatusBar(id="status")
        yield StoryLine(id="story-line")
        yield Timeline(id="timeline")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield PhysMemMap(id="map")
                yield MapLegend(id="legend")
            with TabbedContent(id="tabs", initial="page"):
                with TabPane("Page", id="page"):
                    yield PageInspector(id="inspector")
                with TabPane("Tasks", id="tasks"):
                    yield TasksPanel(id="tasks-panel")
                with TabPane("Cache", id="cache"):
                    yield PageCachePanel(id="cache-panel")
                with TabPane("Disk", id="disk"):
                    yield DiskPanel(id="disk-panel")
                with TabPane("Stats", id="stats"):
                    yield VmstatPanel(id="stats-panel")
                with TabPane("Events", id="events"):
                    yield EventLog(id="log-tab")
                with TabPane("Story", id="story"):
                    yield StoryPanel(id="story-panel")
                with TabPane("/proc", id="proc"):
                    yield ProcPanel(id="proc-panel")
        with Vertical(id="dock"):
            yield Label("events", id="dock-title")
            yield EventLog(id="log-dock")
        yield Input(placeholder="filter: kind:dirty task:logger file:log frame:0x1a3 or words"
                                " (enter applies, empty clears, escape closes)", id="filter")
        yield VmlabFooter()

    # ---- layout ------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        w, h = event.size.width, event.size.height
        self.set_class(w >= WIDE_COLS and h >= WIDE_ROWS, "-wide")
        self.set_class(w < NARROW_COLS, "-narrow")
        self.set_class(h < SHORT_ROWS, "-short")
        self.query_one("#story-line", StoryLine).max_lines = 2 if h < SHORT_ROWS else 3

    def on_mount(self) -> None:
        self._logs = list(self.query(EventLog))
        self._map = self.query_one("#map", PhysMemMap)
        self._map.focus()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        if self._kernel is not None and self._recorder is not None:
            self._refresh_legend()
            self._refresh_tab(self._kernel, self._recorder)
        if self._session is not None:
            self.refresh_story(self._session, self._final)

    @property
    def live(self) -> bool:
        """True while the screen's widgets are in the DOM (not before compose or at exit)."""
        return self._map is not None and self._map.is_attached

    @property
    def wide(self) -> bool:
        return self.has_class("-wide")

    def show_tab(self, tab: str, focus: bool = True) -> None:
        """Show a tab and (by default) focus its main widget, so arrows work there."""
        self.query_one("#tabs", TabbedContent).active = tab
        if focus:
            self.query_one(TAB_FOCUS[tab]).focus()

    @property
    def active_tab(self) -> str:
        return str(self.query_one("#tabs", TabbedContent).active)

    # ---- the model -------------------------------------------------------------------------

    def reset_session(self, k: Kernel, rec: Recorder, labels: tuple[str, str, int, str]) -> None:
        """A new session was booted or loaded: start every view over."""
        self._kernel = k
        self._recorder = rec
        self._states = b""
        self._states_events = -1
        scenario, kernel, seed, flavour = labels
        self.query_one("#topbar", TopBar).show(scenario, kernel, seed, flavour)
        n = k.mem_map.nframes
        self.query_one("#left").border_title = f"RAM {n >> 8} MiB, {n:,} frames"
        for log in self.query(EventLog):
            log.reset(rec.events)
        self.pfn = min(self.pfn, k.mem_map.nframes - 1)
        self.refresh_model(k, rec, [], force=True)

    def refresh_model(self, k: Kernel, rec: Recorder, new_events: list[EventRec],
                      force: bool = False) -> None:
        """Redraw from the model after a slice (only what is visible).

        Args:
            k: the kernel.
            rec: the session's recorder.
            new_events: trace events read since the last call.
            force: redraw the map even if computing it is slow (paused, stepping, zooming).
        """
        if not self.live:
            return
        self._kernel = k
        self._recorder = rec
        for log in self._logs:
            log.append(new_events)
        self._refresh_map(k, force)
        self._refresh_tab(k, rec)
        self._update_dock_title(rec)

    def _refresh_map(self, k: Kernel, force: bool) -> None:
        events = k.machine.events
        now = time.perf_counter()
        if not force and events == self._states_events:
            return
        period = max(_MIN_STATES_PERIOD_S, self._states_cost * 5)
        if not force and self._states_cost > 0.01 and now - self._states_at < period:
            return
        states = vl_frame_states(k)
        self._states_cost = time.perf_counter() - now
        self._states_at = now
        self._states_events = events
        self._states = states
        fmap = self.query_one("#map", PhysMemMap)
        fmap.update_states(states)
        self._refresh_legend()

    def _refresh_legend(self) -> None:
        fmap = self.query_one("#map", PhysMemMap)
        self.query_one("#legend", MapLegend).show(
            vl_frame_state_counts(self._states), fmap.describe_zoom(), self.pfn, self._states)

    def _refresh_tab(self, k: Kernel, rec: Recorder) -> None:
        tab = self.active_tab
        if tab == "page":
            self._refresh_inspector(k)
        elif tab == "tasks":
            self.query_one("#tasks-panel", TasksPanel).refresh_model(k)
        elif tab == "cache":
            self.query_one("#cache-panel", PageCachePanel).refresh_model(k)
        elif tab == "disk":
            self.query_one("#disk-panel", DiskPanel).refresh_model(k, rec)
        elif tab == "stats":
            self.query_one("#stats-panel", VmstatPanel).refresh_model(k, rec, rec.sampled)
        elif tab == "story" and self._session is not None:
            self.query_one("#story-panel", StoryPanel).refresh_model(self._session, self._final)
        elif tab == "proc":
            self.query_one("#proc-panel", ProcPanel).refresh_model(k)

    def refresh_story(self, session: Session, final: list[Standing] | None) -> None:
        """Show the current story text (and the Story tab, if shown); ``final``: the
        expectations decided at the end, once the run has ended."""
        self._session = session
        self._final = final
        if not self.live:
            return
        self.query_one("#story-line", StoryLine).show(session)
        if self.active_tab == "story":
            self.query_one("#story-panel", StoryPanel).refresh_model(session, final)

    def _refresh_inspector(self, k: Kernel) -> None:
        if 0 <= self.pfn < k.mem_map.nframes:
            self.query_one("#inspector", PageInspector).show(
                page_info(k, self.pfn), frame_bytes(k, self.pfn))

    def _update_dock_title(self, rec: Recorder) -> None:
        log = self.query_one("#log-dock", EventLog)
        flt = f"  filter: {log.filter.text}" if log.filter.active else "  (/ to filter)"
        update_text(self.query_one("#dock-title", Label),
                    f"events: {len(log.rows):,} shown of {len(rec.events):,} kept{flt}", True)

    # ---- selection ---------------------------------------------------------------------------

    @on(FrameSelected)
    def _frame_selected(self, event: FrameSelected) -> None:
        self.pfn = event.pfn
        if self._kernel is not None:
            if self.active_tab == "page":
                self._refresh_inspector(self._kernel)
            self._refresh_legend()

    @on(MapZoomed)
    def _map_zoomed(self, event: MapZoomed) -> None:
        if self._states:
            self._refresh_legend()

    @on(FrameClicked)
    def _frame_clicked(self, event: FrameClicked) -> None:
        """A click on the map opens that frame's page in the inspector."""
        if self.active_tab != "page":
            self.show_tab("page", focus=False)

    @on(ShowFrame)
    def _show_frame(self, event: ShowFrame) -> None:
        self.query_one("#map", PhysMemMap).select(event.pfn)

    @on(FrameOpened)
    async def _frame_opened(self, event: FrameOpened) -> None:
        await self.app.run_action("page_detail")

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        if self._kernel is not None and self._recorder is not None:
            self._refresh_tab(self._kernel, self._recorder)

    def select_frame(self, pfn: int) -> None:
        """Move the map cursor (and the inspector) to ``pfn``."""
        self.query_one("#map", PhysMemMap).select(pfn)

    # ---- the event filter --------------------------------------------------------------------

    def open_filter(self) -> None:
        """Show the filter line (and the events, if no log is in view)."""
        if not self.wide:
            self.show_tab("events", focus=False)
        field = self.query_one("#filter", Input)
        field.add_class("-open")
        field.value = self.query_one("#log-tab", EventLog).filter.text
        field.focus()

    def apply_filter(self, text: str) -> str:
        """Filter every event log; returns "" or the one-line reason the text is refused."""
        try:
            flt = EventFilter.parse(text)
        except ValueError as exc:
            return str(exc)
        rec = self._recorder
        history = rec.events if rec is not None else []
        for log in self.query(EventLog):
            log.set_filter(flt, history)
        if rec is not None:
            self._update_dock_title(rec)
        return ""

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        problem = self.apply_filter(event.value)
        if problem:
            self.notify(problem, severity="error", title="filter")
            return
        self._close_filter()

    def _close_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.remove_class("-open")
        log_id = "#log-dock" if self.wide else "#log-tab"
        self.query_one(log_id, EventLog).focus()

    def key_escape(self) -> None:
        """Escape leaves any input: the filter line closes; another box (the Tasks tab's
        address) hands the focus back to its tab's main widget."""
        field = self.query_one("#filter", Input)
        if field.has_class("-open"):
            self._close_filter()
        elif isinstance(self.focused, Input):
            self.query_one(TAB_FOCUS[self.active_tab]).focus()
