"""The system-call entry and table (arch/i386/kernel/entry.S: system_call, sys_call_table) and
the small calls (2.6.6).

``vl_system_call`` is the entry (``Kernel.handle_syscall`` calls it on a trapped
``OP_SYSCALL``): the scenario debugger's calls go to vl_scenario.py; ``sys_call`` maps any other
instruction to the kernel op that implements it, which the entry pushes on the task's kernel
stack and runs.
Argument layout: kernelmodel/include/syscall_abi.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.include.syscall_abi import (
    ENOSYS,
    SYSCALL_NAMES,
    VL_CHECKPOINT,
    VL_VERIFY,
    VL_WAIT_CHILDREN,
    SYS_close,
    SYS_exit,
    SYS_fadvise64,
    SYS_fdatasync,
    SYS_fork,
    SYS_fsync,
    SYS_ftruncate,
    SYS_mmap2,
    SYS_mprotect,
    SYS_msync,
    SYS_munmap,
    SYS_nanosleep,
    SYS_open,
    SYS_read,
    SYS_sync,
    SYS_unlink,
    SYS_write,
)
from kernelmodel.include.vmstat import TR_SYSCALL
from kernelmodel.kernel.sched import run_kstack
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, TASK_RUNNING, Frame, KOp, Task
from kernelmodel.kernel.vl_scenario import VL_BREAK, VL_POWER_CUT, vl_scenario_call
from kernelmodel.kernel.wait import sleep_on
from machine.interfaces import TRAP_CONTINUE, TRAP_STOP

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.isa import Insn


class NanosleepOp(Frame):
    """sys_nanosleep (kernel/timer.c, 2.6.6): sleep for ``ns`` of simulated time.

    As nanosleep_restart/do_nanosleep: set the task asleep, schedule_timeout(expire), and on
    wakeup return 0 (the model's sleep is never interrupted by a signal).
    """

    KIND = "sys_nanosleep"
    FIELDS = (("ns", "int"),)

    def __init__(self, ns: int = 0) -> None:
        super().__init__("nanosleep")
        self.ns = ns

    def step(self, k: Kernel, task: Task) -> int:
        if self.phase == 0:
            self.phase = 1
            sleep_on(k, task, f"timer {task.pid}")
            k.schedule_timeout(task, self.ns)
            return KOP_BLOCKED
        self.result = 0
        return KOP_DONE

    def describe(self) -> str:
        return f"nanosleep {self.ns} ns"


class ImmediateOp(Frame):
    """A call that completed when it was made (checkpoint, verify, an unknown call's -ENOSYS);
    its result is returned on the first step. Model only: the C returns from the call."""

    KIND = "vl_immediate"
    FIELDS = ()

    def __init__(self, name: str = "", result: int = 0) -> None:
        super().__init__(name)
        self.result = result

    def step(self, k: Kernel, task: Task) -> int:
        return KOP_DONE


def sys_call(k: Kernel, task: Task, insn: Insn) -> KOp | None:
    """Dispatch one system call; returns the op implementing it (never None for known calls)."""
    nr = insn.a
    k.trace.emit(k.now(), TR_SYSCALL, task.pid, nr, insn.b, SYSCALL_NAMES.get(nr, str(nr)))
    if nr in (SYS_read, SYS_write):
        from kernelmodel.fs.read_write import sys_read, sys_write

        return sys_read(k, task, insn) if nr == SYS_read else sys_write(k, task, insn)
    if nr in (SYS_open, SYS_close, SYS_unlink):
        from kernelmodel.fs.open import sys_close, sys_open, sys_unlink

        if nr == SYS_open:
            return sys_open(k, task, insn)
        return sys_close(k, task, insn) if nr == SYS_close else sys_unlink(k, task, insn)
    if nr == SYS_ftruncate:
        from kernelmodel.mm.truncate import sys_ftruncate

        return sys_ftruncate(k, task, insn)
    if nr in (SYS_fsync, SYS_fdatasync, SYS_sync):
        from kernelmodel.fs.fsync import sys_fdatasync, sys_fsync, sys_sync

        if nr == SYS_fsync:
            return sys_fsync(k, task, insn)
        return sys_fdatasync(k, task, insn) if nr == SYS_fdatasync else sys_sync(k, task, insn)
    if nr in (SYS_mmap2, SYS_munmap, SYS_msync):
        from kernelmodel.mm.mmap import sys_mmap2, sys_munmap
        from kernelmodel.mm.msync import sys_msync

        if nr == SYS_mmap2:
            return sys_mmap2(k, task, insn)
        return sys_munmap(k, task, insn) if nr == SYS_munmap else sys_msync(k, task, insn)
    if nr == SYS_fadvise64:
        from kernelmodel.mm.fadvise import sys_fadvise64

        return sys_fadvise64(k, task, insn)
    if nr == SYS_mprotect:
        from kernelmodel.mm.mprotect import sys_mprotect

        return sys_mprotect(k, task, insn)
    if nr == SYS_fork:
        from kernelmodel.kernel.fork import sys_fork

        return sys_fork(k, task, insn)
    if nr in (SYS_exit, VL_WAIT_CHILDREN):
        from kernelmodel.kernel.exit import sys_exit, sys_wait_children

        return sys_exit(k, task, insn) if nr == SYS_exit else sys_wait_children(k, task, insn)
    if nr == SYS_nanosleep:
        return NanosleepOp(max(insn.b, 0))
    if nr == VL_CHECKPOINT:
        k.record_checkpoint(task, insn.s)
        return ImmediateOp("checkpoint", 0)
    if nr == VL_VERIFY:
        problems = k.verify_data()
        k.verify_failures += len(problems)
        return ImmediateOp("verify", -len(problems))
    return ImmediateOp(f"syscall {nr}", -ENOSYS)


def vl_system_call(k: Kernel, task: Task, insn: Insn) -> int:
    """system_call (arch/i386/kernel/entry.S): run the call ``insn`` of the current ``task``;
    returns TRAP_CONTINUE (back to the user program) or TRAP_STOP (the task left the CPU, or
    must reschedule).

    A call that completes inside ``sys_call`` has set its return value and advanced the pc; one
    that returns an op runs it on the task's kernel stack until it completes or sleeps.
    """
    if VL_BREAK <= insn.a <= VL_POWER_CUT:
        return vl_scenario_call(k, task, insn)
    op = sys_call(k, task, insn)
    if op is None:
        # completed synchronously inside sys_call (which set retval and advanced pc)
        if task.state != TASK_RUNNING or k.need_resched:
            k.need_resched = False
            return TRAP_STOP
        return TRAP_CONTINUE
    op.is_syscall = True
    task.kstack.append(op)
    r = run_kstack(k, task, k.cfg.timeslice_ns)
    if r == KOP_DONE and task.state == TASK_RUNNING:
        if k.need_resched:
            k.need_resched = False
            return TRAP_STOP
        return TRAP_CONTINUE
    return TRAP_STOP
