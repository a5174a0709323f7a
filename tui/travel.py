"""The dashboard's fine steps, run-until and time travel (the app's actions for them).

The step key steps one unit of the chosen granularity (scenarios/finestep.py: an event, a
fault, a system call, an I/O completion, the next change of the selected page or of the
selected file's tags); the step-back key goes back one such unit; run-until asks for a
check in the expectations' language; the timeline (tui/widgets/timeline.py) seeks. The
session keeps its history from the start (``Session.keep_history``), so everything since
the dashboard opened can be gone back to.

Going back replaces the session's kernel with a restored one; the recorder follows it
(``Recorder.rewind``): the event log and the plots keep their history up to the moment gone
back to, and go on from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scenarios.finestep import GRANULARITIES, StepError
from scenarios.session import SessionError
from tui.driver import MODE_PAUSED
from tui.screens.prompts import InputPrompt
from tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from tui.app import VmlabApp

class TravelActions:
    """Mixed into the app: granularity, step, step back, run until, seek."""

    granularity_index = 0
    furthest_event = 0
    last_run_until = "nr_dirty == 0"

    @property
    def granularity(self) -> str:
        return GRANULARITIES[self.granularity_index]

    def _app(self) -> VmlabApp:
        from tui.app import VmlabApp

        assert isinstance(self, VmlabApp)
        return self

    def start_history(self) -> None:
        """Keep checkpoints from now on (the dashboard's first moment)."""
        app = self._app()
        app.session.keep_history()
        self.furthest_event = app.session.events

    def _target(self) -> dict[str, object]:
        """pfn / path for the page and tag granularities: the selected frame and file."""
        app = self._app()
        if self.granularity == "page":
            return {"pfn": app.dashboard.pfn}
        if self.granularity == "tag":
            from tui.widgets.page_cache_tree import PageCachePanel

            k = app.session.kernel
            ino = app.dashboard.query_one("#cache-panel", PageCachePanel).selected_ino
            names = [p for p, i in k.sb.s_names.items() if i == ino]
            if not names:
                names = list(k.sb.s_names)[:1]
            return {"path": names[0] if names else ""}
        return {}

    def _what(self) -> str:
        t = self._target()
        if "pfn" in t:
            return f"page {t['pfn']:#x}"
        if "path" in t:
            return f"tags of {t['path']}"
        return self.granularity

    # ---- actions ---------------------------------------------------------------------------

    def action_granularity(self) -> None:
        """Choose what one step is: event, fault, syscall, io, page, tag."""
        self.granularity_index = (self.granularity_index + 1) % len(GRANULARITIES)
        self._app().notify(f"a step is now one {self._what()}", title="step")
        self.refresh_timeline()

    def action_fine_step(self) -> None:
        """One unit of the chosen granularity."""
        app = self._app()
        app.driver.pause()
        s = app.session
        try:
            reason = s.step_until(self.granularity, **self._target())  # type: ignore[arg-type]
        except (StepError, SessionError) as exc:
            app.notify(str(exc), severity="error", title="step")
            return
        self._moved(forward=True)
        self._say(reason)

    def action_step_back(self) -> None:
        """Back one unit of the chosen granularity."""
        app = self._app()
        app.driver.pause()
        s = app.session
        try:
            reason = s.step_back(1, self.granularity, **self._target())  # type: ignore[arg-type]
        except (StepError, SessionError) as exc:
            app.notify(str(exc), severity="error", title="step back")
            return
        self._moved(forward=False)
        if reason == "start":
            app.notify("at the first moment the history keeps", title="step back")
        else:
            self._say(reason)

    def action_run_until(self) -> None:
        """Ask for a check and run until it holds."""
        self._app().push_screen(InputPrompt(
            "run until (a check, as in expectations)", "nr_dirty == 0, pgmajfault > 100",
            self.last_run_until), self._run_until_answer)

    def _run_until_answer(self, answer: str | None) -> None:
        if not answer or not answer.strip():
            return
        app = self._app()
        app.driver.pause()
        self.last_run_until = answer.strip()
        try:
            reason = app.session.run_until(self.last_run_until)
        except (StepError, SessionError, ValueError) as exc:
            app.notify(str(exc), severity="error", title="run until")
            return
        self._moved(forward=True)
        if reason == "predicate":
            app.notify(f"{self.last_run_until} holds", title="run until")
        else:
            app.notify(f"the scenario ended before {self.last_run_until} held",
                       title="run until")

    def action_seek(self) -> None:
        """Ask for an event number and go there."""
        app = self._app()
        app.push_screen(InputPrompt(
            f"go to event (now {app.session.events:,}, furthest {self.furthest_event:,})",
            "an event number", str(max(0, app.session.events - 1))), self._seek_answer)

    def _seek_answer(self, answer: str | None) -> None:
        if not answer or not answer.strip():
            return
        try:
            event = int(answer.strip().replace(",", "").replace("_", ""))
        except ValueError:
            self._app().notify(f'"{answer.strip()}" is not an event number', severity="error",
                               title="seek")
            return
        self.seek_to(event)

    def on_timeline_seek(self, message: Timeline.Seek) -> None:
        self.seek_to(message.event)

    def seek_to(self, event: int) -> None:
        app = self._app()
        app.driver.pause()
        s = app.session
        before = s.position
        try:
            s.seek(event)
        except (StepError, SessionError) as exc:
            app.notify(str(exc), severity="error", title="seek")
            return
        self._moved(forward=s.position >= before)

    # ---- after a move ----------------------------------------------------------------------

    def _say(self, reason: str) -> None:
        app = self._app()
        rec = app.session.suspended_at
        if rec is not None:
            app.notify(f"#{rec.seq} {rec.kind} pid {rec.pid} {rec.a:#x} {rec.b} {rec.s}",
                       title=f"inside event {app.session.events:,}")
        elif reason == "end":
            app.notify("the scenario ended", title="step")

    def _moved(self, forward: bool) -> None:
        """Redraw after a step or a seek; a new kernel (going back) starts the views over."""
        app = self._app()
        s = app.session
        if app.final is not None and not (app.driver.ended or s.powered_off):
            app.final = None  # gone back from the end: the results are not decided here
        if app.recorder.k is not s.kernel:
            app.recorder.rewind(s.kernel)
            app.dashboard.reset_session(s.kernel, app.recorder, app._labels())
        elif forward:
            app.recorder.after_event()
        app.driver.mode = MODE_PAUSED
        app._after_change()

    def refresh_timeline(self) -> None:
        """Show where the run is on the timeline."""
        app = self._app()
        s = app.session
        if not app.dashboard.live:
            return
        self.furthest_event = max(self.furthest_event, s.events)
        h = s.history
        cps = [c.position.events for c in h.checkpoints] if h is not None else []
        pos = s.position
        app.dashboard.query_one("#timeline", Timeline).show(
            first=cps[0] if cps else 0, last=self.furthest_event, here=pos.events,
            inside=s.in_event, checkpoints=cps, granularity=self._what(),
            memory=h.nbytes if h is not None else 0)
