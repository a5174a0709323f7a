"""The scenario debugger: breakpoints at named points of kernel paths, stopping and
continuing tasks, checkpoints and the power cut (model only, no kernel counterpart or release).

Kernel paths call ``preempt_point`` at the named points of ``PREEMPT_POINTS``; a program arms a
one-shot breakpoint there for a task by name, waits for the task to stop, continues it, or cuts
the power (``vl_scenario_call``, reached from the system-call entry for VL_BREAK ..
VL_POWER_CUT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.vmstat import TR_CHECKPOINT, TR_TASK
from kernelmodel.kernel.sched import make_runnable
from kernelmodel.kernel.task import TASK_RUNNING, TASK_STOPPED, Task
from kernelmodel.kernel.wait import sleep_on, wake_up
from machine.interfaces import TRAP_CONTINUE, TRAP_STOP
from machine.isa import Insn

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

#: Every named preemption point of the model's kernel paths (``preempt_point``), the
#: one list scenarios are checked against. A path that adds a point adds it
#: here; a test checks that every ``preempt_point`` call in kernelmodel names one of these.
PREEMPT_POINTS: Final = (
    "mpage_writepages:after_clear_dirty",
    "mpage_writepages:after_writepage",
    "fsync:after_down",
    "fsync:after_fdatawrite",
    "fsync:after_fdatawait",
    "sync_sb_inodes:before_writeback",
)
#: Names of the kernel threads (``sched.new_kthread``) a scenario may refer to.
KTHREAD_NAMES: Final = ("pdflush", "kswapd0")
#: The checkpoint a power cut records (``VL_POWER_CUT``); scenarios may not use the name.
POWER_CUT_CHECKPOINT: Final = "power_cut"

#: Scenario-debugger calls (model only; handled in ``vl_scenario_call``):
#: VL_BREAK s = "TASK POINT": arm a one-shot breakpoint (replaces one armed at POINT);
#: VL_AWAIT_STOPPED s = "TASK [POINT]": sleep until a task named TASK is stopped (at POINT);
#: VL_CONTINUE s = "TASK": resume every task named TASK stopped at a breakpoint (-ESRCH: none);
#: VL_POWER_CUT: the disk loses power (queued and in-flight writes are lost) and the
#: ``power_cut`` checkpoint is recorded; a runner ends the run there.
VL_BREAK: Final = 1100
VL_AWAIT_STOPPED: Final = 1101
VL_CONTINUE: Final = 1102
VL_POWER_CUT: Final = 1103
ESRCH: Final = 3


def stop_task(k: Kernel, task: Task, where: str) -> None:
    """Stop a task at a named point (a scenario breakpoint); resume with continue_task."""
    task.state = TASK_STOPPED
    task.stopped_at = where
    if task.pid in k.runqueue:
        k.runqueue.remove(task.pid)
    wake_up(k, vl_stopped_key(task.name))


def preempt_point(k: Kernel, task: Task, point: str) -> bool:
    """A named preemption point inside a kernel path ("mpage_writepages:after_clear_dirty").

    Returns True when a scenario armed a breakpoint here for this task: the task is then
    stopped, and the op must return KOP_BLOCKED having already moved to its next phase,
    so that ``continue_task`` resumes it right after the point.
    """
    want = k.breakpoints.get(point)
    if want is None or (want != "" and want != task.name):
        return False
    del k.breakpoints[point]
    stop_task(k, task, point)
    k.trace.emit(k.now(), TR_TASK, task.pid, 0, 0, f"stopped at {point}")
    return True


def continue_task(k: Kernel, task: Task) -> None:
    bug_on(task.state != TASK_STOPPED, "continue_task: task is not stopped")
    task.stopped_at = ""
    make_runnable(k, task)


def vl_stopped_task(k: Kernel, name: str, point: str) -> Task | None:
    """The first task (in pid order) named ``name`` stopped at a breakpoint, or None.

    ``point`` "" matches any point; otherwise the task must be stopped at ``point``.
    """
    for task in k.tasks.values():
        stopped = task.state == TASK_STOPPED and task.stopped_at != ""
        if stopped and task.name == name and (point == "" or task.stopped_at == point):
            return task
    return None


def vl_scenario_call(k: Kernel, task: Task, insn: Insn) -> int:
    """A scenario-debugger call (VL_BREAK .. VL_POWER_CUT); returns TRAP_CONTINUE/STOP.

    VL_AWAIT_STOPPED restarts: when no matching task is stopped, the caller sleeps on
    "stopped TASK" without advancing its pc, and runs the call again when a task of that
    name stops (``stop_task`` wakes the queue). No kernel op is pushed, so a snapshot
    holds nothing but the sleeping task.

    Caller: ``handle_syscall``, for the current task.
    """
    ctx = task.ctx
    assert ctx is not None
    args = insn.s.split(" ")
    name = args[0]
    point = args[1] if len(args) > 1 else ""
    nr = insn.a
    ret = 0
    if nr == VL_BREAK:
        bug_on(point not in PREEMPT_POINTS, f"VL_BREAK: unknown point {point!r}")
        k.breakpoints[point] = name
        k.trace.emit(k.now(), TR_TASK, task.pid, 0, 0, f"break {name} at {point}")
    elif nr == VL_AWAIT_STOPPED:
        if vl_stopped_task(k, name, point) is None:
            sleep_on(k, task, vl_stopped_key(name))
            return TRAP_STOP
    elif nr == VL_CONTINUE:
        ret = -ESRCH
        for other in list(k.tasks.values()):
            if other.name == name and other.state == TASK_STOPPED and other.stopped_at:
                k.trace.emit(k.now(), TR_TASK, other.pid, task.pid, 0,
                                f"continue from {other.stopped_at}")
                continue_task(k, other)
                ret = 0
    else:
        vl_power_cut(k, task)
    ctx.retval = ret
    ctx.pc += 1
    if task.state != TASK_RUNNING or k.need_resched:
        k.need_resched = False
        return TRAP_STOP
    return TRAP_CONTINUE


def vl_power_cut(k: Kernel, task: Task) -> None:
    """The machine loses power now: the disk drops its queued and in-flight requests
    (completed writes stay on the medium) and the ``power_cut`` checkpoint is recorded,
    where a runner ends the run (RAM does not survive; nothing after this is meaningful).
    """
    vl_power_cut_at(k, task.pid)
    k.need_resched = True


def vl_power_cut_at(k: Kernel, pid: int) -> None:
    """The power cut itself, between events or from a task (``pid``; 0 for the runner's
    own call, ``Session.power_cut``): the disk drops what it has not completed and the
    ``power_cut`` checkpoint is recorded."""
    lost = k.machine.disk.power_cut()
    k.trace.emit(k.now(), TR_TASK, pid, lost, 0, "power cut")
    k.checkpoints.append((POWER_CUT_CHECKPOINT, pid, k.now()))
    k.trace.emit(k.now(), TR_CHECKPOINT, pid, len(k.checkpoints), 0,
                    POWER_CUT_CHECKPOINT)


def record_checkpoint(k: Kernel, task: Task, name: str) -> None:
    """A program reached ``checkpoint NAME``: record it so a runner can stop here."""
    k.checkpoints.append((name, task.pid, k.now()))
    k.need_resched = True
    k.trace.emit(k.now(), TR_CHECKPOINT, task.pid, len(k.checkpoints), 0, name)


def vl_stopped_key(name: str) -> str:
    """Wait-queue key of the tasks waiting for a task named ``name`` to stop."""
    return f"stopped {name}"
