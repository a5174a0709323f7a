"""Tasks and the kernel stack of resumable operations (include/linux/sched.h, kernel/sched.c,
2.6.6; the kernel stack of ops is the model's).

A task is a user program (a ``CpuContext`` running on the emulated CPU) plus a kernel stack.
The kernel stack is a list of ``KOp`` records: a kernel path that may sleep (fsync waiting on
writeback, a read waiting on the disk, reclaim waiting for memory) is a record with a phase and
a cursor instead of a C stack frame. The scheduler resumes the top record when the task runs.

Protocol of ``KOp.step(k, task) -> int``:
    * KOP_DONE: the op finished; its int result is in ``op.result``. It is popped and the op
      below (or the syscall return path) reads it from ``task.kret``.
    * KOP_CONTINUE: it made progress (possibly pushing a child op); step again.
    * KOP_BLOCKED: the task went to sleep (``sleep_on`` was called); leave the CPU.

Invariants:
    * a task with state TASK_RUNNING is on the run queue exactly once, or is current;
    * a sleeping task has ``wait_key`` set and its pid is on that wait queue exactly once;
    * only the top op of ``kstack`` is ever stepped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.cpu import CpuContext

KOP_DONE: Final = 0
KOP_CONTINUE: Final = 1
KOP_BLOCKED: Final = 2

TASK_RUNNING: Final = 0
TASK_INTERRUPTIBLE: Final = 1
TASK_UNINTERRUPTIBLE: Final = 2
TASK_STOPPED: Final = 4
TASK_ZOMBIE: Final = 8
TASK_DEAD: Final = 16

TASK_STATE_NAMES: Final = {
    TASK_RUNNING: "running",
    TASK_INTERRUPTIBLE: "sleeping",
    TASK_UNINTERRUPTIBLE: "blocked",
    TASK_STOPPED: "stopped",
    TASK_ZOMBIE: "zombie",
    TASK_DEAD: "dead",
}

# task->flags (include/linux/sched.h, 2.6.6 values)
PF_MEMALLOC: Final = 0x00000800
PF_MEMDIE: Final = 0x00001000
PF_FLUSHER: Final = 0x00002000
PF_KSWAPD: Final = 0x00040000
PF_SYNCWRITE: Final = 0x00200000
PF_LESS_THROTTLE: Final = 0x00100000
PF_KTHREAD: Final = 0x00000010  # model-only marker: a kernel thread with no user program


class KOp:
    """A kernel path in progress on a task's kernel stack (a resumable record).

    Subclasses keep only plain data (ints, strings, ids) so the stack can be snapshotted.
    ``name`` is the kernel function the op stands for; ``describe`` says what it is doing in
    words the dashboard shows ("fsync: waiting on writeback of log:4213").
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.phase = 0
        self.result = 0
        #: True for the op that implements a whole system call: its completion returns to
        #: user space (ctx.retval = result, ctx.pc += 1).
        self.is_syscall = False
        #: True for the op that implements a page fault: its completion retries the access.
        self.is_fault = False

    def step(self, k: Kernel, task: Task) -> int:
        """Advance the op; returns KOP_DONE, KOP_CONTINUE or KOP_BLOCKED."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def to_state(self) -> dict[str, object]:
        """The op's plain-data state; subclasses extend it with their own fields."""
        return {
            "op": self.name,
            "phase": self.phase,
            "result": self.result,
            "is_syscall": self.is_syscall,
            "is_fault": self.is_fault,
        }

    def load_base_state(self, state: dict[str, object]) -> None:
        phase = state.get("phase", 0)
        result = state.get("result", 0)
        if not isinstance(phase, int) or not isinstance(result, int):
            raise ValueError(f"kop {self.name}: malformed phase/result")
        self.phase = phase
        self.result = result
        self.is_syscall = bool(state.get("is_syscall", False))
        self.is_fault = bool(state.get("is_fault", False))


class Task:
    """struct task_struct: the parts of it the VM model needs."""

    def __init__(self, pid: int, name: str, ctx: CpuContext | None) -> None:
        self.pid = pid
        self.name = name
        self.state = TASK_RUNNING
        self.flags = 0
        self.ctx = ctx
        #: Kernel stack of resumable ops, bottom first.
        self.kstack: list[KOp] = []
        #: Result of the last op popped from the kernel stack.
        self.kret = 0
        #: Wait-queue key the task sleeps on ("" when not sleeping).
        self.wait_key = ""
        #: The mm_struct id the task runs in (-1 for kernel threads).
        self.mm_id = -1
        #: Open files: fd -> open-file id (owned by the filesystem model).
        self.files: dict[int, int] = {}
        self.next_fd = 3
        self.parent = 0
        self.exit_code = 0
        self.min_flt = 0
        self.maj_flt = 0
        self.nvcsw = 0
        self.cpu_ns = 0
        #: Pages dirtied since the last balance_dirty_pages call (per-CPU ratelimit counter).
        self.dirtied = 0
        #: Scenario breakpoint that stopped the task ("" when none).
        self.stopped_at = ""

    def is_kthread(self) -> bool:
        return (self.flags & PF_KTHREAD) != 0

    def state_name(self) -> str:
        return TASK_STATE_NAMES.get(self.state, str(self.state))

    def describe_wait(self) -> str:
        """Blocked-on text for the dashboard, e.g. "fsync: waiting on page 4213 writeback"."""
        if self.state == TASK_RUNNING:
            return "running"
        if self.stopped_at:
            return f"stopped at {self.stopped_at}"
        what = self.kstack[-1].describe() if self.kstack else self.state_name()
        if self.wait_key:
            return f"{what}: waiting on {self.wait_key}"
        return what

    def __repr__(self) -> str:
        return f"<task pid={self.pid} {self.name} {self.state_name()} mm={self.mm_id}>"
