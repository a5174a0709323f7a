"""/proc: the machine's /proc files as Linux 2.6.6 prints them, computed from the model
(``scenarios.procfs``). A row of buttons picks the file; maps and status are of the task
picked in the task list (the first user task at first)."""

from __future__ import annotations

import time
from typing import Final

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Select, Static

from kernelmodel.kernel.kernel import Kernel
from scenarios.procfs import VIEWS
from scenarios.procfs.maps import maps
from scenarios.procfs.meminfo import meminfo
from scenarios.procfs.page_types import page_types
from scenarios.procfs.status import status
from scenarios.procfs.tasks import NoSuchTask
from scenarios.procfs.vmstat import vmstat
from tui.widgets.text_update import update_text

#: Recompute the shown file at most this often (wall seconds) while the run goes on.
_PERIOD_S: Final = 0.25

#: The button labels: the file each view is.
FILES: Final = {"meminfo": "meminfo", "vmstat": "vmstat", "maps": "maps", "status": "status",
                "page-types": "types"}


def proc_text(k: Kernel, view: str, pid: int) -> str:
    """The text of one view (``pid`` for maps and status)."""
    try:
        if view == "meminfo":
            return meminfo(k)
        if view == "vmstat":
            return vmstat(k)
        if view == "maps":
            return maps(k, pid) or "(no mm: a kernel thread, or a task that has exited)"
        if view == "status":
            return status(k, pid)
        return page_types(k)
    except NoSuchTask as exc:
        return str(exc)


class ProcPanel(Vertical):
    """Buttons for the files, a task list for the per-task ones, the text."""

    DEFAULT_CSS = """
    ProcPanel { height: 1fr; }
    ProcPanel #proc-buttons { height: 1; }
    ProcPanel #proc-buttons Button { min-width: 4; width: auto; margin: 0; }
    ProcPanel #proc-row { height: 1; }
    ProcPanel #proc-pid { width: 24; }
    ProcPanel #proc-title { height: 1; width: 1fr; padding: 0 1; color: $text-muted; }
    ProcPanel #proc-scroll { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view = "meminfo"
        self.pid = -1
        self._tasks: tuple[tuple[int, str], ...] = ()
        self._shown = ""
        self._at = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="proc-buttons"):
            for view, label in FILES.items():
                yield Button(label, id=f"proc-{view}", compact=True,
                             tooltip=VIEWS[view][1])
        with Horizontal(id="proc-row"):
            yield Select[int]([], id="proc-pid", prompt="task", allow_blank=True,
                              compact=True, tooltip="the task of maps and status")
            yield Label("", id="proc-title")
        with VerticalScroll(id="proc-scroll"):
            yield Static("", id="proc-text", markup=False)

    def show_view(self, view: str) -> None:
        """Show /proc file ``view`` (a key of ``scenarios.procfs.VIEWS``)."""
        self.view = view
        self._shown = ""
        for v in FILES:
            self.query_one(f"#proc-{v}", Button).variant = "primary" if v == view else "default"

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        if bid.startswith("proc-"):
            self.show_view(bid[len("proc-"):])
            self._redraw_later()

    @on(Select.Changed, "#proc-pid")
    def _pid_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.pid = event.value
            self._shown = ""
            self._redraw_later()

    def _redraw_later(self) -> None:
        k = getattr(getattr(self.app, "session", None), "kernel", None)
        if isinstance(k, Kernel):
            self.refresh_model(k, force=True)

    def refresh_model(self, k: Kernel, force: bool = False) -> None:
        """Recompute the shown file from the model (only the text that changed is drawn; at
        most every quarter second unless ``force``: page-types reads every struct page)."""
        wall = time.perf_counter()
        if not force and self._shown and wall - self._at < _PERIOD_S:
            return
        self._at = wall
        tasks = tuple((t.pid, t.name) for t in k.tasks.values())
        if tasks != self._tasks:
            self._tasks = tasks
            select = self.query_one("#proc-pid", Select)
            select.set_options([(f"{pid} {name}", pid) for pid, name in tasks])
            if self.pid not in k.tasks:
                users = [t.pid for t in k.tasks.values() if t.mm_id >= 0]
                self.pid = users[0] if users else (tasks[0][0] if tasks else -1)
            if self.pid >= 0:
                select.value = self.pid
        per_task = VIEWS[self.view][0]
        name = f"/proc/{self.pid}/{self.view}" if per_task else \
            ("page-types (struct page census)" if self.view == "page-types"
             else f"/proc/{self.view}")
        update_text(self.query_one("#proc-title", Label),
                    f"{name}, as Linux 2.6.6 prints it", True)
        text = proc_text(k, self.view, self.pid)
        if text != self._shown:
            self._shown = text
            self.query_one("#proc-text", Static).update(text)
