"""Wait queues and sleeping (kernel/sched.c, include/linux/wait.h, mm/filemap.c page waits;
2.6.6).

A wait queue is a list of pids under a stable string key ("page 4213 writeback"). A task that
must wait calls ``sleep_on`` and its current kernel op returns KOP_BLOCKED; the code that
clears the condition calls ``wake_up`` with the same key. Woken tasks re-run the op's current
phase, which re-checks the condition (so wake-all is always safe, as with the kernel's
exclusive-less page waits).

Invariants:
    * a pid appears at most once on one queue, and only while its task sleeps with that key;
    * queue order is the order of sleeping (FIFO wake), never dependent on hashing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.kernel.task import TASK_RUNNING, TASK_UNINTERRUPTIBLE

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task


def page_locked_key(pfn: int) -> str:
    """Wait-queue key of PG_locked on the page at ``pfn`` (page_waitqueue + bit)."""
    return f"page {pfn} locked"


def page_writeback_key(pfn: int) -> str:
    """Wait-queue key of PG_writeback on the page at ``pfn``."""
    return f"page {pfn} writeback"


def sleep_on(k: Kernel, task: Task, key: str) -> None:
    """Put ``task`` to sleep on the queue ``key`` (prepare_to_wait + schedule).

    Caller: the current kernel op of ``task``, which then returns KOP_BLOCKED.
    """
    task.state = TASK_UNINTERRUPTIBLE
    task.wait_key = key
    q = k.waitqueues.get(key)
    if q is None:
        k.waitqueues[key] = [task.pid]
    elif task.pid not in q:
        q.append(task.pid)


def wake_up(k: Kernel, key: str) -> int:
    """Wake every task sleeping on ``key`` (wake_up_all); returns how many were woken."""
    q = k.waitqueues.pop(key, None)
    if q is None:
        return 0
    n = 0
    for pid in q:
        task = k.tasks.get(pid)
        if task is not None and task.wait_key == key:
            task.wait_key = ""
            if task.state == TASK_UNINTERRUPTIBLE:
                k.make_runnable(task)
                n += 1
    return n


def vl_remove_from_waitqueue(k: Kernel, task: Task) -> None:
    """Take a sleeping task off its queue (used when a task is killed while asleep)."""
    if not task.wait_key:
        return
    q = k.waitqueues.get(task.wait_key)
    if q is not None and task.pid in q:
        q.remove(task.pid)
        if not q:
            del k.waitqueues[task.wait_key]
    task.wait_key = ""


def wake_up_page(k: Kernel, page: Page, locked: bool) -> None:
    """wake_up_page(page, PG_locked or PG_writeback) (mm/filemap.c)."""
    if locked:
        wake_up(k, page_locked_key(page.pfn))
    else:
        wake_up(k, page_writeback_key(page.pfn))


def vl_is_running(task: Task) -> bool:
    return task.state == TASK_RUNNING
