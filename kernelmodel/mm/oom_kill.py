"""The out-of-memory killer (mm/oom_kill.c, 2.6.6).

``out_of_memory`` is called by ``try_to_free_pages`` each time a whole reclaim run (priority
12 down to 0) frees fewer than SWAP_CLUSTER_MAX pages. It does nothing while swap has free
slots. Otherwise it kills only when failures keep coming: within 5 s of the previous failure,
at least 1 s after the first one of the series, on the 10th failure or later, and at least
5 s after the previous kill (2.6.6's static ``first``, ``last``, ``count``, ``lastkill``, in
simulated ns with HZ = 1000). An OOM kill is a trace event (TR_OOM) and counted in
vmstat.oom_kill (which 2.6.6 did not have); it is never a simulator error.

``badness`` (2.6.6 badness, simplified): the points are the mm's resident pages (rss; 2.6.6
starts from total_vm, the model from what a kill gives back), divided by int_sqrt of the CPU
time in units of 8 s as 2.6.6 does. Not modelled: the run-time divisor (tasks record no start
time), and the nice, root and CAP_SYS_RAWIO adjustments (every task is an unprivileged nice-0
process). Kernel threads (no mm) and tasks already dying (PF_MEMDIE) score 0; ties go to the
lowest pid, the first in the task list.

Killing: the victim gets PF_MEMALLOC | PF_MEMDIE (it may use the reserves to exit) and
"SIGKILL". The model delivers the signal at once with ``k.do_exit(task, 128 + 9)`` when the
victim is not the current task and has no kernel op in progress other than faults waiting to
be retried (it is in user mode, or asleep in a fault that will simply not be retried);
otherwise the kill is pending and ``vl_oom_kill_pending`` completes it when the victim next
reaches such a safe point (the kernel's signal check on the way back to user space): at the
start of its next slice, or at the next out_of_memory call.

Invariants:
    * at most one kill per 5 s of simulated time;
    * a task with PF_MEMDIE is never chosen again.
"""

from __future__ import annotations

from math import isqrt
from typing import TYPE_CHECKING, Final

from kernelmodel.include.swap import OomState
from kernelmodel.include.vmstat import TR_OOM
from kernelmodel.kernel.task import PF_MEMALLOC, PF_MEMDIE, TASK_DEAD, TASK_ZOMBIE

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

#: One second of jiffies (HZ = 1000) in simulated ns.
HZ_NS: Final = 1_000_000_000
#: SIGKILL's exit status (128 + signal 9).
OOM_EXIT_CODE: Final = 137


def badness(k: Kernel, task: Task) -> int:
    """badness(): how attractive ``task`` is to kill (module docstring for the formula)."""
    if task.mm_id < 0 or task.is_kthread() or (task.flags & PF_MEMDIE) != 0:
        return 0
    if task.state == TASK_ZOMBIE or task.state == TASK_DEAD:
        return 0
    mm = k.mm_registry.mms.get(task.mm_id)
    if mm is None:
        return 0
    points = mm.rss
    cpu_time = task.cpu_ns // (8 * HZ_NS)
    s = isqrt(cpu_time)
    if s:
        points //= s
    return points


def select_bad_process(k: Kernel) -> Task | None:
    """select_bad_process(): the task with the most points (the first one on ties)."""
    chosen: Task | None = None
    maxpoints = 0
    for task in k.tasks.values():
        points = badness(k, task)
        if points > maxpoints:
            chosen = task
            maxpoints = points
    return chosen


def _oom_kill_task(k: Kernel, task: Task) -> None:
    """__oom_kill_task(): give the victim the reserves and send SIGKILL."""
    task.flags |= PF_MEMALLOC | PF_MEMDIE
    k.vmstat.oom_kill += 1
    k.oom.victims.append(task.pid)
    k.trace.emit(k.now(), TR_OOM, task.pid, badness_rss(k, task), 0,
                 f"Out of Memory: Killed process {task.pid} ({task.name})")
    vl_oom_kill_pending(k, task)


def badness_rss(k: Kernel, task: Task) -> int:
    """The victim's rss for the trace record (0 without an mm)."""
    mm = k.mm_registry.mms.get(task.mm_id) if task.mm_id >= 0 else None
    return mm.rss if mm is not None else 0


def vl_oom_kill_pending(k: Kernel, task: Task, at_slice_start: bool = False) -> bool:
    """Deliver a pending OOM kill if ``task`` is at a safe point; returns True if it exited.

    A safe point: the task has PF_MEMDIE and is alive; every op on its kernel stack is a
    page fault waiting to be retried (a FaultOp holds no page, lock or reference, and is
    simply not retried); and its kernel path is not running right now, i.e. it is not the
    current task, unless the scheduler calls this at the start of the task's slice.

    Args:
        at_slice_start: the caller is the scheduler, before running ``task``'s slice.

    Caller: oom_kill and out_of_memory; the scheduler before each slice (kernel.py).
    """
    if (task.flags & PF_MEMDIE) == 0 or task.is_kthread():
        return False
    if task.state == TASK_ZOMBIE or task.state == TASK_DEAD:
        return False
    if task.pid == k.current and not at_slice_start:
        return False
    for op in task.kstack:
        if not op.is_fault:
            return False
    k.do_exit(task, OOM_EXIT_CODE)  # kernel/exit.c, reached through k
    return True


def _reap_pending(k: Kernel) -> None:
    """Complete the kills of earlier victims that have reached a safe point."""
    for pid in k.oom.victims:
        task = k.tasks.get(pid)
        if task is not None:
            vl_oom_kill_pending(k, task)


def oom_kill(k: Kernel) -> None:
    """oom_kill(): kill the worst task. With no candidate 2.6.6 panics; the model records the
    event in the trace and carries on (the allocating tasks keep waiting)."""
    victim = select_bad_process(k)
    if victim is None:
        k.trace.emit(k.now(), TR_OOM, -1, 0, 0, "Out of memory and no killable processes")
        return
    _oom_kill_task(k, victim)


def out_of_memory(k: Kernel) -> None:
    """out_of_memory(): decide whether the system is really out of memory, and kill.

    Caller: try_to_free_pages after a failed run at every priority.
    """
    _reap_pending(k)
    if k.swap.nr_swap_pages > 0:
        return
    st = k.oom
    now = k.now()
    since = now - st.last
    st.last = now
    if since > 5 * HZ_NS:
        _oom_reset(st, now)
        return
    if now - st.first < HZ_NS:
        return
    st.count += 1
    if st.count < 10:
        return
    if now - st.lastkill < 5 * HZ_NS:
        return
    st.lastkill = now
    oom_kill(k)
    _oom_reset(st, now)


def _oom_reset(st: OomState, now: int) -> None:
    """out_of_memory's ``reset:`` label: a new series starts now."""
    if now > st.first:
        st.first = now
    st.count = 0
