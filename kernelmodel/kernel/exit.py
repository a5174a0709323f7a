"""Process exit and waiting for children (kernel/exit.c: do_exit, exit_mm, exit_notify, 2.6.6).

``do_exit`` releases the address space at once (``exit_mm`` -> mmput -> exit_mmap: every pte
zapped, every page table and the page directory freed, swap slots released through
free_swap_and_cache), then closes the task's files and makes it a zombie (``release_task``),
waking a parent that waits for its children. Closing files can sleep (deleting an unlinked
inode waits for its writeback), so when the task still has open files (or an inode whose last
mapping went must be deleted) the rest of the exit runs as an ``ExitOp`` on the task's kernel
stack; otherwise the task is gone when do_exit returns.

The model's wait is ``VL_WAIT_CHILDREN``: sleep until every child has exited (zombies are not
reaped; their pids stay in the task table).

Invariants:
    * an exited task has no mm (``mm_id == -1``), no open files and an empty kernel stack;
    * a task is never exited twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    TASK_DEAD,
    TASK_RUNNING,
    TASK_ZOMBIE,
    Frame,
    KOp,
    Task,
    vl_push,
)
from kernelmodel.kernel.wait import sleep_on, vl_remove_from_waitqueue, wake_up

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import Insn

#: ExitOp phases.
EX_FILES: Final = 0
EX_DEFERRED: Final = 1
EX_NOTIFY: Final = 2


def wait_children_key(pid: int) -> str:
    """Wait-queue key of a parent waiting for its children (wait4's wait_chldexit)."""
    return f"task {pid} children"


def exit_mm(k: Kernel, task: Task) -> None:
    """exit_mm(): detach the task from its mm and drop the reference (mmput)."""
    from kernelmodel.kernel.fork import mmput

    if task.mm_id < 0:
        return
    mm = k.mm_registry.mms.get(task.mm_id)
    task.mm_id = -1
    if mm is not None:
        mmput(k, mm)


def exit_notify(k: Kernel, task: Task, code: int) -> None:
    """exit_notify() + release: the task becomes a zombie; a waiting parent is woken."""
    k.release_task(task, code)
    wake_up(k, wait_children_key(task.parent))


class ExitOp(Frame):
    """The part of do_exit (kernel/exit.c, 2.6.6) that may sleep: __exit_files, deleting
    unlinked inodes, then exit_notify. Its last step tears the task down (the kernel stack is
    cleared)."""

    KIND = "do_exit"
    FIELDS = (("code", "int"),)
    #: resumes at the step after a callee returned, as the op it was (keeps the timing)
    INLINE = False

    def __init__(self, code: int = 0) -> None:
        super().__init__("exit")
        self.code = code

    def step(self, k: Kernel, task: Task) -> int:
        from kernelmodel.mm.mmap import vl_drain_deferred_iput

        if self.phase == EX_FILES:
            self.phase = EX_DEFERRED
            if task.files:
                from kernelmodel.fs.open import vl_exit_files

                vl_push(task, vl_exit_files(k, task))
            return KOP_CONTINUE
        if self.phase == EX_DEFERRED:
            if vl_drain_deferred_iput(k, task):
                return KOP_CONTINUE
            self.phase = EX_NOTIFY
        exit_notify(k, task, self.code)
        return KOP_DONE

    def describe(self) -> str:
        return f"exit({self.code})"


def do_exit(k: Kernel, task: Task, code: int) -> None:
    """do_exit(code): release the mm now; close files and notify (at once or via ExitOp).

    Safe for the current task at a trap or syscall boundary, and for a sleeping task (an OOM
    victim): that one is taken off its wait queue and made runnable, and whatever ops its
    kernel stack held are discarded when it is released (they must hold no lock while
    asleep, which is true of the model's fault and allocation waits).

    Caller: ``task`` has not exited yet (a second call is ignored).
    """
    if task.state == TASK_ZOMBIE or task.state == TASK_DEAD:
        return
    for op in task.kstack:
        if isinstance(op, ExitOp):
            return
    exit_mm(k, task)
    if not task.files and not k.mm_registry.deferred_iput:
        exit_notify(k, task, code)
        return
    task.kstack.append(ExitOp(code))
    if task.state != TASK_RUNNING:
        vl_remove_from_waitqueue(k, task)
        k.make_runnable(task)


def sys_exit(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """exit(2): b = exit code. The mm goes at once; the returned op finishes the exit."""
    exit_mm(k, task)
    return ExitOp(insn.b)


class WaitChildrenOp(Frame):
    """VL_WAIT_CHILDREN, the model's wait: as sys_wait4's loop (kernel/exit.c, 2.6.6), look
    at every child and sleep on wait_chldexit while one still runs; returns 0 once every
    child has exited (zombies are not reaped)."""

    KIND = "vl_wait_children"
    FIELDS = ()

    def __init__(self) -> None:
        super().__init__("wait")

    def step(self, k: Kernel, task: Task) -> int:
        for other in k.tasks.values():
            if other.parent == task.pid and other.state != TASK_ZOMBIE and (
                other.state != TASK_DEAD
            ):
                sleep_on(k, task, wait_children_key(task.pid))
                return KOP_BLOCKED
        self.result = 0
        return KOP_DONE

    def describe(self) -> str:
        return "wait for children"


def sys_wait_children(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """VL_WAIT_CHILDREN: returns 0 once every child has exited."""
    return WaitChildrenOp()
