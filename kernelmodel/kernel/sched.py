"""The scheduler: tasks, the run queue and the slice (kernel/sched.c, kernel/pid.c, 2.6.6).

The scheduler is a uniprocessor round robin driven by one timer, TIMER_SCHED. A slice runs the
top of the current task's kernel stack (resumable ``KOp`` records, see task.py) and then its
user program on the CPU, until the slice budget is spent, the task sleeps or it exits. The time
a slice takes is charged to the simulated clock by scheduling the next TIMER_SCHED that much
later; interrupts that fall inside a slice are therefore taken at its end (the model does not
preempt the kernel, which matches a 2.6.6 kernel built without CONFIG_PREEMPT).

Its state is the kernel's (``k.tasks``, ``k.runqueue``, ``k.current``, ``k.sched_seq``,
``k.task_timer_seq``): these functions are the code of kernel/sched.c over those globals.

Invariants:
    * ``current`` is -1 outside a slice;
    * a TASK_RUNNING task that is not current is on ``runqueue`` exactly once;
    * at most one TIMER_SCHED event is pending (``sched_seq``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.timer import TIMER_SCHED, TIMER_WAKE
from kernelmodel.include.vmstat import TR_TASK
from kernelmodel.kernel.config import PID_MAX
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CALL,
    KOP_CONTINUE,
    KOP_DONE,
    PF_KTHREAD,
    PF_MEMDIE,
    TASK_DEAD,
    TASK_RUNNING,
    TASK_ZOMBIE,
    KOp,
    Task,
    vl_host_pause,
)
from kernelmodel.kernel.wait import vl_remove_from_waitqueue
from kernelmodel.mm.oom_kill import vl_oom_kill_pending
from kernelmodel.mm.pgtable import vl_switch_mm
from machine.clock import EV_TIMER
from machine.cpu import CpuContext

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

#: Simulated cost of one step of a kernel op (ns); coarse and the same in every profile.
KOP_STEP_NS: Final = 100

#: Pids below pid_max that fork leaves to kernel threads (pdflush starts up to
#: MAX_PDFLUSH_THREADS = 8), since the model's pids are never reused.
KTHREAD_PID_RESERVE: Final = 8


def alloc_pid(k: Kernel) -> int:
    """alloc_pidmap() (kernel/pid.c): the next pid. Simplified: pids are never freed
    (zombies are not reaped), so there is no wrap-around search; callers check
    ``vl_fork_allowed`` first, and running out here is a BUG."""
    pid = k.next_pid
    bug_on(pid >= PID_MAX, f"alloc_pid: every pid below pid_max ({PID_MAX}) is taken")
    k.next_pid += 1
    return pid


def vl_nr_threads(k: Kernel) -> int:
    """nr_threads: tasks that hold a task_struct (every one but TASK_DEAD; the model's
    zombies are never reaped, so they stay counted as unreaped zombies are)."""
    return sum(1 for t in k.tasks.values() if t.state != TASK_DEAD)


def vl_fork_allowed(k: Kernel) -> bool:
    """copy_process()'s limits (kernel/fork.c, 2.6.6): ``nr_threads >= max_threads`` and
    a pid (``alloc_pidmap``) must both be available; fork fails with -EAGAIN otherwise.
    The tasks run as root, so RLIMIT_NPROC does not apply to fork (the loader holds the
    boot tasks to it)."""
    return (k.next_pid < PID_MAX - KTHREAD_PID_RESERVE
            and vl_nr_threads(k) < k.max_threads)


def new_task(k: Kernel, name: str, prog_id: int, parent: int) -> Task:
    """Create a runnable user task that starts at the beginning of program ``prog_id``.

    The caller sets up ``task.mm_id`` (an empty mm for spawn, a copy for fork).
    """
    bug_on(prog_id < 0 or prog_id >= len(k.programs), "new_task: bad program id")
    pid = alloc_pid(k)
    ctx = CpuContext(pid, k.programs[prog_id], prog_id)
    task = Task(pid, name, ctx)
    task.parent = parent
    k.tasks[pid] = task
    k.runqueue.append(pid)
    kick(k)
    k.trace.emit(k.now(), TR_TASK, pid, parent, 0, f"new {name}")
    return task


def new_kthread(k: Kernel, name: str, main_op: KOp) -> Task:
    """Create a kernel thread (no mm, no user program) whose kernel stack is ``main_op``."""
    pid = alloc_pid(k)
    task = Task(pid, name, None)
    task.flags |= PF_KTHREAD
    task.kstack.append(main_op)
    k.tasks[pid] = task
    k.runqueue.append(pid)
    kick(k)
    return task


def make_runnable(k: Kernel, task: Task) -> None:
    """try_to_wake_up: put a sleeping task back on the run queue."""
    if task.state in (TASK_ZOMBIE, TASK_DEAD):
        return
    seq = k.task_timer_seq.pop(task.pid, -1)
    if seq >= 0:
        k.machine.clock.cancel(seq)
    task.state = TASK_RUNNING
    task.wait_key = ""
    if task.pid != k.current and task.pid not in k.runqueue:
        k.runqueue.append(task.pid)
    kick(k)


def schedule_timeout(k: Kernel, task: Task, ns: int) -> None:
    """Arm a timer that wakes ``task`` after ``ns`` unless it is woken earlier.

    Caller: an op that has just called sleep_on(task, ...) and returns KOP_BLOCKED.
    """
    seq = k.machine.clock.schedule(k.now() + max(ns, 1), EV_TIMER, TIMER_WAKE, task.pid)
    k.task_timer_seq[task.pid] = seq


def release_task(k: Kernel, task: Task, code: int) -> None:
    """The last step of do_exit: the task becomes a zombie and leaves every queue.

    Caller: the exit path, after the mm and files were released.
    """
    task.exit_code = code
    vl_remove_from_waitqueue(k, task)
    task.state = TASK_ZOMBIE
    task.kstack.clear()
    if task.pid in k.runqueue:
        k.runqueue.remove(task.pid)
    seq = k.task_timer_seq.pop(task.pid, -1)
    if seq >= 0:
        k.machine.clock.cancel(seq)
    k.trace.emit(k.now(), TR_TASK, task.pid, code, 0, f"exit {task.name}")


def all_user_tasks_exited(k: Kernel) -> bool:
    for task in k.tasks.values():
        if not task.is_kthread() and task.state not in (TASK_ZOMBIE, TASK_DEAD):
            return False
    return True


def kick(k: Kernel) -> None:
    """Make sure a scheduler tick is pending if there is something to run."""
    if k.sched_seq < 0 and k.current < 0:
        k.sched_seq = k.machine.clock.schedule(k.now(), EV_TIMER, TIMER_SCHED, 0)
        k.cpu_idle = False


def schedule(k: Kernel) -> None:
    """schedule(): run one slice of the next runnable task, then arm the next tick."""
    k.sched_seq = -1
    while k.runqueue:
        pid = k.runqueue.pop(0)
        task = k.tasks.get(pid)
        if task is not None and task.state == TASK_RUNNING:
            run_slice(k, task)
            return
    k.cpu_idle = True


def run_slice(k: Kernel, task: Task) -> None:
    k.current = task.pid
    k.slice_ns = 0
    vl_switch_mm(k, task)
    if (task.flags & PF_MEMDIE) != 0 and vl_oom_kill_pending(k, task, True):
        # an OOM victim dies at its first safe point: the start of its next slice
        k.current = -1
        kick(k)
        return
    budget = k.cfg.timeslice_ns
    r = run_kstack(k, task, budget)
    ctx = task.ctx
    if r == KOP_DONE and task.state == TASK_RUNNING and ctx is not None:
        remaining = budget - k.slice_ns
        if remaining > 0:
            k.in_cpu_run = True
            k.machine.cpu.run(ctx, remaining, k)
            k.in_cpu_run = False
            k.slice_ns += k.machine.cpu.spent_ns
    used = max(k.slice_ns, 1)
    task.cpu_ns += used
    k.current = -1
    if task.state == TASK_RUNNING:
        k.runqueue.append(task.pid)
    k.sched_seq = k.machine.clock.schedule(k.now() + used, EV_TIMER, TIMER_SCHED, 0)
    k.cpu_idle = False


def slice_budget_left(k: Kernel) -> int:
    used = k.machine.cpu.spent_ns if k.in_cpu_run else k.slice_ns
    return k.cfg.timeslice_ns - used


def run_kstack(k: Kernel, task: Task, budget: int) -> int:
    """Step the top of ``task``'s frame stack until it empties, sleeps or the slice ends.

    A step costs KOP_STEP_NS. A frame that calls (KOP_CALL) runs its callee in the same
    step, and a protocol frame resumes in the same step as its callee returns (task.py).

    Returns KOP_DONE (stack empty), KOP_BLOCKED (the task left the CPU) or KOP_CONTINUE
    (budget spent, work left).
    """
    same_step = False
    while task.kstack:
        if not same_step:
            if task.state != TASK_RUNNING:
                return KOP_BLOCKED
            if slice_budget_left(k) <= 0:
                return KOP_CONTINUE
            k.charge(KOP_STEP_NS)
        vl_host_pause(k)
        op = task.kstack[-1]
        r = op.step(k, task)
        same_step = r == KOP_CALL
        if r == KOP_BLOCKED:
            return KOP_BLOCKED
        if r == KOP_DONE:
            if not task.kstack or task.kstack[-1] is not op:
                # the op tore down the task (exit) and cleared the stack
                return KOP_BLOCKED
            task.kstack.pop()
            task.kret = op.result
            if op.is_syscall and task.ctx is not None:
                task.ctx.retval = op.result
                task.ctx.pc += 1
            same_step = bool(task.kstack) and task.kstack[-1].inline
    return KOP_DONE if task.state == TASK_RUNNING else KOP_BLOCKED
