"""Tasks and their frame stacks (include/linux/sched.h, kernel/sched.c, 2.6.6; the frame stack
stands in for the C kernel stack).

A task is a user program (a ``CpuContext`` running on the emulated CPU) plus a stack of frames.
A kernel path that may sleep is not a Python call (the model cannot suspend a Python stack):
each C function that may sleep is a ``KOp`` frame on ``task.kstack``, its locals are the
frame's declared fields, and the scheduler steps the top frame when the task runs.

The protocol (the one way a model path blocks; docs/ARCHITECTURE.md walks through an example):
    * ``step(k, task)`` advances the top frame and returns
        - KOP_DONE: the function returned; its int result is ``result``. The frame is popped
          and the caller reads it from ``task.kret`` (and may read the callee's other locals
          through the reference it kept, see below);
        - KOP_CONTINUE: a scheduling point (cond_resched, or a callee pushed to run at the next
          step); step again when the task next has CPU;
        - KOP_CALL: the frame pushed a callee (``vl_call``) that runs now, in the same step;
        - KOP_BLOCKED: the task went to sleep (``sleep_on``) or stopped at a breakpoint.
    * Calling: ``vl_call(task, callee)`` pushes the callee and returns KOP_CALL. The caller keeps
      the callee in a field declared ``callee`` and sets its ``phase`` to the point after the
      call; when it is stepped again the callee has returned.
    * Returning: a frame of the protocol (``Frame``) resumes in the same step its callee
      returned (a C return is no scheduling point). A frame converted from an op that
      resumed at the next step keeps that timing (``INLINE = False``, or a KOP_CONTINUE at
      the resume), which costs KOP_STEP_NS like any step.
    * Sleeping: a frame that must wait calls ``sleep_on`` and returns KOP_BLOCKED without
      moving past the wait; when woken it runs the same phase again, which re-checks the
      condition from the top (as the C loops do after schedule()).
    * State: a ``Frame`` declares its locals once in ``FIELDS`` ((name, kind) in save order);
      kernelmodel/kernel/frame_state.py saves and loads every frame from that table alone.

Invariants:
    * a task with state TASK_RUNNING is on the run queue exactly once, or is current;
    * a sleeping task has ``wait_key`` set and its pid is on that wait queue exactly once;
    * only the top frame of ``kstack`` is ever stepped;
    * a frame's ``callee`` field, when set, is the frame directly above it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from machine.state_generated import load_cpu_context, save_cpu_context
from machine.state_read import read_dict_list, read_int, read_opt_dict

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.cpu import CpuContext

#: How a task's checked reads name it in an error.
_WHAT: Final = "kernel state: task"

KOP_DONE: Final = 0
KOP_CONTINUE: Final = 1
KOP_BLOCKED: Final = 2
KOP_CALL: Final = 3

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
    """The type of an entry of a task's kernel stack; every entry is a ``Frame`` (below).

    Subclasses keep only plain data (ints, strings, ids) so the stack can be snapshotted.
    ``name`` is the kernel function the op stands for; ``describe`` says what it is doing in
    words the dashboard shows ("fsync: waiting on writeback of log:4213").
    """

    #: The frame's declared locals, (name, kind) in save order (see frame_state.py for the
    #: kinds).
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: The registry key of a declared frame class (frame_state.FRAME_CLASSES).
    KIND: ClassVar[str] = ""

    def __init__(self, name: str) -> None:
        self.name = name
        #: True for protocol frames: the frame resumes in the step its callee returned.
        self.inline = False
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

    def calls(self, frame: KOp) -> bool:
        """True when ``frame`` is this frame's callee (a field of kind ``callee`` holds it)."""
        return any(kind == "callee" and getattr(self, name) is frame for name, kind in self.FIELDS)

    def load_base_state(self, state: dict[str, object]) -> None:
        phase = state.get("phase", 0)
        result = state.get("result", 0)
        if not isinstance(phase, int) or not isinstance(result, int):
            raise ValueError(f"kop {self.name}: malformed phase/result")
        self.phase = phase
        self.result = result
        self.is_syscall = bool(state.get("is_syscall", False))
        self.is_fault = bool(state.get("is_fault", False))


class Frame(KOp):
    """A frame of the one protocol: declared locals, resumed in the step its callee returns."""

    #: False for the frames that resume at the step after their callee returned, as the
    #: ops they were converted from did (it keeps the model's timing: KOP_STEP_NS per step).
    INLINE: ClassVar[bool] = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.inline = self.INLINE

    def to_state(self) -> dict[str, object]:
        """The frame alone as plain data (its wbc saved as its own; a task's stack is saved
        with ``frame_state.vl_kstack_state``, which knows each frame's caller)."""
        from kernelmodel.kernel.frame_state import vl_frame_state

        return vl_frame_state(self, None)


def vl_call(task: Task, callee: KOp) -> int:
    """Call a function that may sleep: push its frame; it runs now (returns KOP_CALL).

    Caller: a frame's ``step``, which returns this value having kept ``callee`` in a field
    declared ``callee`` and moved its phase past the call.
    """
    task.kstack.append(callee)
    return KOP_CALL


def vl_push(task: Task, callee: KOp) -> None:
    """Push a callee that runs at the caller's next step (the caller returns KOP_CONTINUE or
    KOP_BLOCKED: a scheduling or breakpoint point lies between the call and the callee)."""
    task.kstack.append(callee)


def vl_host_pause(k: Kernel) -> None:
    """A point where the host may pause the event in progress: calls ``k.vl_pause_hook``.

    Nothing in the model happens here. The dashboard (scenarios/finestep.py) runs an event
    in a greenlet and, through the hook, suspends it here when its frame's wall-clock budget
    is spent, and resumes it at the next frame: the event goes on from this point, so what
    the model does, and when in simulated time, is the same as in a run that never paused.
    Placed in every loop that can run long in one event (reclaim's page loops, each page
    fault, each kernel-op step).
    """
    hook = k.vl_pause_hook
    if hook is not None:
        hook()


def cond_resched(k: Kernel) -> None:
    """cond_resched() (include/linux/sched.h, 2.6.6): ``if (need_resched())
    __cond_resched();`` in the long loops of a kernel built without CONFIG_PREEMPT.

    Model simplification: the model never reschedules inside a kernel-op step (its slices
    end at the next return to user, sched.py), so need_resched is not acted on here; the
    point is kept as the host's pause point (``vl_host_pause``), where the C has it.
    """
    vl_host_pause(k)


def vl_int_key(text: str, what: str) -> int:
    """A dict key that stands for an int (a pid, an fd): canonical decimal only."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii() or str(int(text)) != text:
        raise ValueError(f"kernel state: {what} key {text!r} is not an integer")
    return int(text)


class Task:
    """struct task_struct: the parts of it the VM model needs."""

    # state context: k: Kernel from kernelmodel.kernel.kernel
    def __init__(self, pid: int, name: str, ctx: CpuContext | None = None) -> None:
        self.pid: int = pid  # state
        self.name: str = name  # state
        self.state: int = TASK_RUNNING  # state
        self.flags: int = 0  # state
        #: The user context (None for a kernel thread); saved with its program's id.
        self.ctx: CpuContext | None = ctx  # state: custom
        #: Kernel stack of resumable ops, bottom first.
        self.kstack: list[KOp] = []  # state: custom
        #: Result of the last op popped from the kernel stack.
        self.kret: int = 0  # state
        #: Wait-queue key the task sleeps on ("" when not sleeping).
        self.wait_key: str = ""  # state
        #: The mm_struct id the task runs in (-1 for kernel threads).
        self.mm_id: int = -1  # state
        #: Open files: fd -> open-file id (owned by the filesystem model).
        self.files: dict[int, int] = {}  # state: str_keys
        self.next_fd: int = 3  # state
        self.parent: int = 0  # state
        self.exit_code: int = 0  # state
        self.min_flt: int = 0  # state
        self.maj_flt: int = 0  # state
        self.nvcsw: int = 0  # state
        self.cpu_ns: int = 0  # state
        #: Pages dirtied since the last balance_dirty_pages call (per-CPU ratelimit counter).
        self.dirtied: int = 0  # state
        #: Scenario breakpoint that stopped the task ("" when none).
        self.stopped_at: str = ""  # state

    def vl_save_ctx(self, out: dict[str, object]) -> None:
        """The user context, or None (a kernel thread)."""
        out["ctx"] = save_cpu_context(self.ctx) if self.ctx is not None else None

    def vl_load_ctx(self, state: dict[str, object], k: Kernel) -> None:
        """The user context over the program it names by id (``k``'s programs are loaded)."""
        cs = read_opt_dict(state, "ctx", _WHAT)
        if cs is None:
            return
        prog_id = read_int(cs, "prog_id", _WHAT)
        if prog_id < 0 or prog_id >= len(k.programs):
            raise ValueError(f"kernel state: task {self.pid} runs unknown program {prog_id}")
        ctx = load_cpu_context(cs, k.programs[prog_id])
        if ctx.pid != self.pid:
            raise ValueError(f"kernel state: task {self.pid} has the context of pid {ctx.pid}")
        if ctx.pc < 0 or ctx.pc > len(ctx.prog):
            raise ValueError(f"kernel state: task {self.pid} pc {ctx.pc} outside its program")
        self.ctx = ctx

    def vl_save_kstack(self, out: dict[str, object]) -> None:
        """Every frame, bottom first (frame_state.py)."""
        from kernelmodel.kernel.frame_state import vl_kstack_state

        out["kstack"] = vl_kstack_state(self.kstack)

    def vl_load_kstack(self, state: dict[str, object], k: Kernel) -> None:
        """The frames back (each finds its inode, pages and frames by id in ``k``), then the
        links from callers to their callees."""
        from kernelmodel.kernel.frame_state import vl_frame_from_state, vl_link_callees

        items = read_dict_list(state, "kstack", _WHAT)
        for item in items:
            self.kstack.append(vl_frame_from_state(k, item, self.kstack[-1] if self.kstack
                                                   else None))
        vl_link_callees(self.kstack, items)

    def vl_check_state(self) -> None:
        """The task state is one the scheduler knows."""
        if self.state not in TASK_STATE_NAMES:
            raise ValueError(f"kernel state: task {self.pid} has unknown state {self.state}")

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
        what = self.kstack[vl_outermost_caller(self.kstack)].describe() if self.kstack else \
            self.state_name()
        if self.wait_key:
            return f"{what}: waiting on {self.wait_key}"
        return what

    def __repr__(self) -> str:
        return f"<task pid={self.pid} {self.name} {self.state_name()} mm={self.mm_id}>"


def vl_outermost_caller(kstack: list[KOp]) -> int:
    """Index of the frame that describes what the top of ``kstack`` is doing: walk down while
    the frame below is a protocol frame whose ``callee`` chain reaches the top (a caller
    describes its callees, as the nested frames of older releases did)."""
    i = len(kstack) - 1
    while i > 0 and kstack[i - 1].inline and kstack[i - 1].calls(kstack[i]):
        i -= 1
    return i
