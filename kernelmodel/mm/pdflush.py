"""The pdflush thread pool (mm/pdflush.c, 2.6.6).

pdflush threads are kernel threads that sleep on ``pdflush_list`` until
``pdflush_operation(fn, arg0)`` hands one of them work: ``background_writeout`` or
``wb_kupdate`` (page_writeback.py). ``PdflushOp`` is the main loop of one thread
(``__pdflush``); it runs the work function as a frame, so the thread can sleep inside it.

Thread creation and exit follow mm/pdflush.c: after finishing work, a thread starts another
one if no thread was idle for over 1 s (up to MAX_PDFLUSH_THREADS), and leaves if more than
MIN_PDFLUSH_THREADS exist and the thread that has slept longest has slept over 1 s.

Model simplifications: each thread sleeps on its own wait-queue key ("pdflush PID"), which is
``wake_up_process(pdf->who)``; PF_FREEZE (software suspend) is not modelled.

Invariants:
    * a thread is on ``k.wb.pdflush_list`` exactly while it sleeps with no work (``fn`` NONE);
    * the head of ``pdflush_list`` is the thread that went to sleep last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.vmstat import TR_PDFLUSH
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    PF_FLUSHER,
    Frame,
    Task,
    vl_push,
)
from kernelmodel.kernel.wait import sleep_on, wake_up
from kernelmodel.mm.page_writeback import HZ_NS, BackgroundWriteout, WbKupdate

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

MIN_PDFLUSH_THREADS: Final = 2
MAX_PDFLUSH_THREADS: Final = 8


#: pdflush work functions (the fn pointer of struct pdflush_work).
PDFLUSH_NONE: Final = 0
PDFLUSH_BACKGROUND_WRITEOUT: Final = 1
PDFLUSH_WB_KUPDATE: Final = 2
PDFLUSH_FN_NAMES: Final = ("none", "background_writeout", "wb_kupdate")

def _pdflush_key(pid: int) -> str:
    """Wait-queue key of one pdflush thread (wake_up_process(pdf->who))."""
    return f"pdflush {pid}"


class PdflushOp(Frame):
    """__pdflush(my_work): the main loop of a pdflush kernel thread (mm/pdflush.c, 2.6.6).

    Sleeps on its own key after putting itself at the head of pdflush_list; when
    pdflush_operation hands it work (``fn``, ``arg0``) it runs background_writeout or
    wb_kupdate, then considers starting another thread (none idle for over 1 s and fewer than
    MAX_PDFLUSH_THREADS) or exiting (more than MIN_PDFLUSH_THREADS and the sleepiest thread
    idle for over 1 s). Never returns KOP_DONE while the thread lives. Phases (resume
    points): 0 the top of the for loop; 1 woken from schedule(); 2 the work function returned.
    """

    KIND = "pdflush"
    FIELDS = (("fn", "int"), ("arg0", "int"), ("when_i_went_to_sleep", "int"), ("bw", "callee"),
              ("ku", "callee"))  # fmt: skip

    def __init__(self) -> None:
        super().__init__("pdflush")
        self.fn = PDFLUSH_NONE
        self.arg0 = 0
        self.when_i_went_to_sleep = 0
        self.bw: BackgroundWriteout | None = None
        self.ku: WbKupdate | None = None

    def step(self, k: Kernel, task: Task) -> int:
        wb = k.wb
        if self.phase == 0:  # for ( ; ; ) { list_move(&my_work->list, &pdflush_list);
            if task.pid in wb.pdflush_list:
                wb.pdflush_list.remove(task.pid)
            wb.pdflush_list.insert(0, task.pid)
            self.when_i_went_to_sleep = k.now()
            self.phase = 1
            sleep_on(k, task, _pdflush_key(task.pid))
            return KOP_BLOCKED  # schedule();
        if self.phase == 1:
            if task.pid in wb.pdflush_list or self.fn == PDFLUSH_NONE:
                self.fn = PDFLUSH_NONE  # bogus wakeup, or NULL work function
                self.phase = 0
                return KOP_CONTINUE
            name = PDFLUSH_FN_NAMES[self.fn]
            k.trace.emit(k.now(), TR_PDFLUSH, task.pid, self.fn, self.arg0, name)
            self.phase = 2
            if self.fn == PDFLUSH_BACKGROUND_WRITEOUT:  # (*my_work->fn)(my_work->arg0);
                self.bw = BackgroundWriteout(self.arg0)
                vl_push(task, self.bw)
            else:
                self.ku = WbKupdate()
                vl_push(task, self.ku)
            return KOP_CONTINUE
        self.bw = None
        self.ku = None
        now = k.now()
        # Thread creation: For how long have there been zero available threads?
        if (now - wb.last_empty_jifs > HZ_NS and not wb.pdflush_list
                and len(wb.pdflush_pids) < MAX_PDFLUSH_THREADS):
            start_one_pdflush_thread(k)
        self.fn = PDFLUSH_NONE
        self.phase = 0
        # Thread destruction: For how long has the sleepiest thread slept?
        if wb.pdflush_list and len(wb.pdflush_pids) > MIN_PDFLUSH_THREADS:
            sleepiest = k.tasks[wb.pdflush_list[-1]].kstack[0]
            if isinstance(sleepiest, PdflushOp) and now - sleepiest.when_i_went_to_sleep > HZ_NS:
                sleepiest.when_i_went_to_sleep = now  # Limit exit rate
                wb.pdflush_pids.remove(task.pid)  # nr_pdflush_threads--; the thread leaves
                if task.pid in wb.pdflush_list:
                    wb.pdflush_list.remove(task.pid)
                k.release_task(task, 0)
                return KOP_DONE
        return KOP_CONTINUE

    def describe(self) -> str:
        if self.phase == 2:
            return f"pdflush: {PDFLUSH_FN_NAMES[self.fn]}"
        return "pdflush: idle"


def start_one_pdflush_thread(k: Kernel) -> Task:
    """start_one_pdflush_thread(): a new kernel thread running __pdflush."""
    task = k.new_kthread("pdflush", PdflushOp())
    task.flags |= PF_FLUSHER
    k.wb.pdflush_pids.append(task.pid)
    return task


def current_is_pdflush(task: Task) -> bool:
    """current_is_pdflush(): the task has PF_FLUSHER."""
    return (task.flags & PF_FLUSHER) != 0


def pdflush_operation(k: Kernel, fn: int, arg0: int) -> int:
    """pdflush_operation(fn, arg0): hand work to the idle thread at the head of pdflush_list.

    Returns:
        0, or -1 when no pdflush thread is idle.
    """
    bug_on(fn == PDFLUSH_NONE, "pdflush_operation: fn == NULL")
    wb = k.wb
    if not wb.pdflush_list:
        return -1
    pid = wb.pdflush_list.pop(0)
    if not wb.pdflush_list:
        wb.last_empty_jifs = k.now()
    op = k.tasks[pid].kstack[0]
    bug_on(not isinstance(op, PdflushOp), "pdflush_operation: not a pdflush thread")
    assert isinstance(op, PdflushOp)
    op.fn = fn
    op.arg0 = arg0
    wake_up(k, _pdflush_key(pid))
    return 0
