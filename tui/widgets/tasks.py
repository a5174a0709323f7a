"""Tasks: the task table, the selected task's VMAs and a page-table walk of a typed address."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from kernelmodel.kernel.kernel import Kernel
from tui.messages import ShowFrame, TaskSelected
from tui.view import TaskRow, page_walk, parse_address, task_rows, task_vmas, wait_text
from tui.widgets.text_update import update_text

#: (key, label, width): fixed widths, so the table looks the same however it was filled.
_COLUMNS = (("pid", "pid", 4), ("name", "name", 9), ("state", "state", 8),
            ("what", "doing / waiting on", 48), ("rss", "RSS", 6),
            ("faults", "faults min/maj", 14), ("cpu", "cpu ms", 8))

_STATE_STYLES = {"runnable": "green", "blocked": "red", "sleeping": "yellow",
                 "stopped": "magenta", "zombie": "dim"}


def _cells(row: TaskRow) -> tuple[object, ...]:
    name = Text(row.name, "dim" if row.kthread else "")
    state = Text(row.state, _STATE_STYLES.get(row.state, ""))
    return (row.pid, name, state, row.what, row.rss, f"{row.min_flt}/{row.maj_flt}",
            f"{row.cpu_ns / 1e6:.1f}")


class TasksPanel(Vertical):
    """Task table on top; the selected task's VMAs and the walk below."""

    DEFAULT_CSS = """
    TasksPanel { height: 1fr; }
    TasksPanel #task-table { height: 2fr; min-height: 4; }
    TasksPanel #task-detail { height: 3fr; padding: 0 1; }
    TasksPanel #walk-row { height: auto; }
    TasksPanel #walk-row Label { padding: 1 1 0 0; }
    TasksPanel #walk-address { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.selected_pid = -1
        self._pids: list[int] = []
        self._rows: dict[int, tuple[object, ...]] = {}
        self._kernel: Kernel | None = None
        self._walk_addr = -1

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(id="task-table", cursor_type="row",
                                             zebra_stripes=True)
        yield table
        with VerticalScroll(id="task-detail"):
            yield Static("", id="vma-list")
            with Horizontal(id="walk-row"):
                yield Label("walk address:")
                yield Input(placeholder="0x40000000 then enter", id="walk-address")
            yield Static("", id="walk-result")

    def on_mount(self) -> None:
        table = self.query_one("#task-table", DataTable)
        for key, label, width in _COLUMNS:
            table.add_column(label, width=width, key=key)

    def refresh_model(self, k: Kernel) -> None:
        """Bring the table, the VMA list and the walk up to date."""
        self._kernel = k
        table: DataTable[object] = self.query_one("#task-table", DataTable)
        rows = task_rows(k)
        pids = [r.pid for r in rows]
        if pids != self._pids:
            self._rebuild(table, rows)
        else:
            for r in rows:
                cells = _cells(r)
                old = self._rows.get(r.pid)
                if old != cells:
                    for (key, _label, _w), value, before in zip(_COLUMNS, cells, old or cells,
                                                                strict=True):
                        if old is None or value != before:
                            table.update_cell(str(r.pid), key, value)
                    self._rows[r.pid] = cells
        if self.selected_pid < 0 and rows:
            self._select(self._first_user_pid(rows))
        self._show_detail()

    @staticmethod
    def _first_user_pid(rows: list[TaskRow]) -> int:
        for r in rows:
            if not r.kthread:
                return r.pid
        return rows[0].pid

    def _rebuild(self, table: DataTable[object], rows: list[TaskRow]) -> None:
        table.clear()
        self._rows = {}
        for r in rows:
            cells = _cells(r)
            table.add_row(*cells, key=str(r.pid))
            self._rows[r.pid] = cells
        self._pids = [r.pid for r in rows]
        if self.selected_pid in self._pids:
            table.move_cursor(row=self._pids.index(self.selected_pid), animate=False)

    def _select(self, pid: int) -> None:
        self.selected_pid = pid
        table: DataTable[object] = self.query_one("#task-table", DataTable)
        if pid in self._pids:
            table.move_cursor(row=self._pids.index(pid), animate=False)

    @on(DataTable.RowHighlighted, "#task-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        pid = int(event.row_key.value)
        if pid != self.selected_pid:
            self.selected_pid = pid
            self._show_detail()
            self.post_message(TaskSelected(pid))

    def _show_detail(self) -> None:
        k = self._kernel
        if k is None:
            return
        task = k.tasks.get(self.selected_pid)
        text = Text()
        if task is None:
            text.append("select a task", "dim")
        else:
            text.append(f"{task.pid} {task.name}: ", "bold")
            text.append(f"{wait_text(k, task)}\n")
            vmas = task_vmas(k, task.pid)
            if not vmas:
                text.append("no VMAs\n", "dim")
            for v in vmas:
                text.append(f"  {v.vm_start:#010x}-{v.vm_end:#010x} ", "cyan")
                text.append(f"{v.perms:<5} pgoff {v.pgoff:#x}  {v.backing}\n")
        update_text(self.query_one("#vma-list", Static), text)
        if self._walk_addr >= 0:
            self._show_walk(k, self._walk_addr, announce=False)

    def _show_walk(self, k: Kernel, addr: int, announce: bool) -> None:
        result = page_walk(k, self.selected_pid, addr)
        update_text(self.query_one("#walk-result", Static), Text("\n".join(result.lines)))
        if announce and result.frame >= 0 and result.frame < k.mem_map.nframes:
            self.post_message(ShowFrame(result.frame))

    @on(Input.Submitted, "#walk-address")
    def _walk_submitted(self, event: Input.Submitted) -> None:
        k = self._kernel
        if k is None:
            return
        try:
            addr = parse_address(event.value)
        except ValueError as exc:
            self.query_one("#walk-result", Static).update(Text(str(exc), "red"))
            return
        self._walk_addr = addr
        self._show_walk(k, addr, announce=True)
