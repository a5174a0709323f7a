"""The kernel instance: boot, scheduler, traps, interrupts, timers (init/main.c, kernel/sched.c,
2.6.6; the release profile's designs are chosen by ``KernelConfig``).

One ``Kernel`` object holds what C keeps in globals (mem_map, the zone, the task list, wait
queues, page_state, the swap areas, the filesystem). Model functions that need that state take
it as their first argument ``k``: this is the model's one systematic departure from the
kernel's signatures.

The scheduler is a uniprocessor round robin driven by one timer, TIMER_SCHED. A slice runs the
top of the current task's kernel stack (resumable ``KOp`` records, see task.py) and then its
user program on the CPU, until the slice budget is spent, the task sleeps or it exits. The time
a slice takes is charged to the simulated clock by scheduling the next TIMER_SCHED that much
later; interrupts that fall inside a slice are therefore taken at its end (the model does not
preempt the kernel, which matches a 2.6.6 kernel built without CONFIG_PREEMPT).

Invariants:
    * ``current`` is -1 outside a slice;
    * a TASK_RUNNING task that is not current is on ``runqueue`` exactly once;
    * at most one TIMER_SCHED event is pending (``sched_seq``).

Scenario debugger: kernel paths call ``preempt_point`` at the
named points of ``PREEMPT_POINTS``; a program arms a one-shot breakpoint there for a task by
name, waits for the task to stop, continues it, or cuts the power (``vl_scenario_call``).

Lock ordering: not modelled (one CPU, no preemption inside a kernel op step); each op step is
atomic, and a step that would sleep returns KOP_BLOCKED instead.
"""

from __future__ import annotations

from array import array
from typing import Final

from kernelmodel.fs.bio import Bio, bio_endio_request
from kernelmodel.fs.fs import SuperBlock, vl_fs_nblocks
from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import VlMmRegistry
from kernelmodel.include.page import MemMap, Page, SetPageReserved
from kernelmodel.include.vmstat import TR_CHECKPOINT, TR_TASK, PageState, TraceRing
from kernelmodel.include.writeback import WritebackState
from kernelmodel.kernel.exit import do_exit
from kernelmodel.kernel.syscalls import sys_call
from kernelmodel.kernel.task import (
    KOP_BLOCKED,
    KOP_CONTINUE,
    KOP_DONE,
    PF_KTHREAD,
    PF_MEMDIE,
    TASK_DEAD,
    TASK_RUNNING,
    TASK_STOPPED,
    TASK_ZOMBIE,
    KOp,
    Task,
)
from kernelmodel.kernel.wait import sleep_on, vl_remove_from_waitqueue, wake_up
from kernelmodel.lib.rng import Rng
from kernelmodel.mm.memory import do_page_fault
from kernelmodel.mm.oom_kill import OomState, vl_oom_kill_pending
from kernelmodel.mm.page_alloc import GFP_KERNEL, PageAllocator, alloc_page, vl_boot
from kernelmodel.mm.pgtable import vl_switch_mm
from kernelmodel.mm.swap import LruPvecs
from kernelmodel.mm.swap_state import SwapperSpace
from kernelmodel.mm.swapfile import SwapState
from kernelmodel.mm.vmscan import KswapdState
from kernelmodel.oracle.oracle import Oracle
from kernelmodel.oracle.oracle_mm import (
    VlMmOracle,
    oracle_note_load_mismatch,
    oracle_note_store,
    oracle_note_store_run,
)
from machine.board import Machine
from machine.clock import EV_TIMER
from machine.cpu import CpuContext
from machine.disk import DiskRequest
from machine.interfaces import TRAP_CONTINUE, TRAP_STOP, IrqHandler, TrapHandler
from machine.isa import Insn

TIMER_SCHED: Final = 1
TIMER_WAKE: Final = 2
TIMER_KUPDATE: Final = 3

#: Simulated costs of kernel work (ns). Coarse, documented, and the same in every profile.
SYSCALL_NS: Final = 300
FAULT_NS: Final = 800
KOP_STEP_NS: Final = 100

RELEASES: Final = ("2.6.5", "2.6.6", "2.6.7")
WRITEBACK_MODES: Final = ("tags", "lists")
RMAP_MODES: Final = ("anon_vma", "pte_chain", "anonmm")
#: Reclaim designs: 2.6.6's mm/vmscan.c (vmscan.py) or 2.6.7's rewrite (vmscan_267.py).
VMSCAN_MODES: Final = ("2.6.6", "2.6.7")
#: do_swap_page's release: "2.6.6" (2.6.5 and 2.6.6: a write that cannot share the page
#: takes a second fault into do_wp_page) or "2.6.7" (rmap 11: COW broken inside the fault).
SWAPIN_MODES: Final = ("2.6.6", "2.6.7")

#: Every named preemption point of the model's kernel paths (``Kernel.preempt_point``), the
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
#: Names of the kernel threads (``Kernel.new_kthread``) a scenario may refer to.
KTHREAD_NAMES: Final = ("pdflush", "kswapd0")
#: The checkpoint a power cut records (``VL_POWER_CUT``); scenarios may not use the name.
POWER_CUT_CHECKPOINT: Final = "power_cut"

#: Scenario-debugger calls (model only; handled in ``Kernel.vl_scenario_call``):
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


def vl_kernel_image_frames(nframes: int) -> int:
    """Frames reserved for the kernel image after frame 0: 1 MiB, less on tiny machines."""
    return min(256, max(nframes // 16, 1))


#: PID_MAX_DEFAULT (include/linux/threads.h): pids are below 32768.
PID_MAX: Final = 0x8000
#: Pids below pid_max that fork leaves to kernel threads (pdflush starts up to
#: MAX_PDFLUSH_THREADS = 8), since the model's pids are never reused.
KTHREAD_PID_RESERVE: Final = 8


def vl_max_threads(nframes: int) -> int:
    """fork_init() (kernel/fork.c, 2.6.6): the default threads-max, ``mempages /
    (THREAD_SIZE / PAGE_SIZE) / 8`` with i386's 8 KiB kernel stacks, and at least 20.

    init's RLIMIT_NPROC is half of it (``init_task.rlim[RLIMIT_NPROC]``).
    """
    return max(nframes // 16, 20)
def vl_release_vmscan(release: str) -> str:
    """The reclaim design a release shipped: 2.6.7 rewrote mm/vmscan.c; 2.6.5 and 2.6.6 run
    the 2.6.6 structure (2.6.5's few differences are keyed on the release)."""
    return "2.6.7" if release == "2.6.7" else "2.6.6"


def vl_release_swapin(release: str) -> str:
    """The do_swap_page a release shipped: 2.6.7's breaks COW inside the fault; 2.6.5 has
    2.6.6's."""
    return "2.6.7" if release == "2.6.7" else "2.6.6"


class KernelConfig:
    """Boot parameters: the release profile's switches, sysctl tunables and the seed."""

    def __init__(
        self,
        release: str = "2.6.7",
        writeback: str = "tags",
        rmap: str = "anon_vma",
        vmscan: str | None = None,
        swap_bytes: int = 128 << 20,
        seed: int = 0,
        dirty_background_ratio: int = 10,
        dirty_ratio: int = 40,
        dirty_writeback_centisecs: int = 500,
        dirty_expire_centisecs: int = 3000,
        swappiness: int = 60,
        timeslice_ns: int = 1_000_000,
        debug_checks: bool = False,
        poison: bool = False,
        l1_cache_bytes: int = 128,
        threads_max: int = 0,
        swapin: str | None = None,
    ) -> None:
        self.release = release
        self.writeback = writeback
        self.rmap = rmap
        #: The reclaim design; None: the release's own (2.6.7's for 2.6.7, else 2.6.6's).
        self.vmscan: str = vmscan if vmscan is not None else vl_release_vmscan(release)
        #: Which release's do_swap_page runs (SWAPIN_MODES; memory.py); None: the release's
        #: own (2.6.5 shares 2.6.6's).
        self.swapin: str = swapin if swapin is not None else vl_release_swapin(release)
        self.swap_bytes = swap_bytes
        self.seed = seed
        self.dirty_background_ratio = dirty_background_ratio
        self.dirty_ratio = dirty_ratio
        self.dirty_writeback_centisecs = dirty_writeback_centisecs
        self.dirty_expire_centisecs = dirty_expire_centisecs
        self.swappiness = swappiness
        self.timeslice_ns = timeslice_ns
        self.debug_checks = debug_checks
        self.poison = poison
        self.l1_cache_bytes = l1_cache_bytes
        #: /proc/sys/kernel/threads-max; 0: fork_init's default for the machine's memory.
        self.threads_max = threads_max

    def validate(self) -> None:
        """Raise ValueError with one line naming the first bad field."""
        if self.release not in RELEASES:
            known = ", ".join(RELEASES)
            raise ValueError(f"kernel.release: unknown {self.release!r} (expected one of {known})")
        if self.writeback not in WRITEBACK_MODES:
            raise ValueError(f"kernel.writeback: expected one of {', '.join(WRITEBACK_MODES)}")
        if self.rmap not in RMAP_MODES:
            raise ValueError(f"kernel.rmap: expected one of {', '.join(RMAP_MODES)}")
        if self.vmscan not in VMSCAN_MODES:
            raise ValueError(f"kernel.vmscan: expected one of {', '.join(VMSCAN_MODES)}")
        if self.swapin not in SWAPIN_MODES:
            raise ValueError(f"kernel.swapin: expected one of {', '.join(SWAPIN_MODES)}")
        if self.swap_bytes < 0 or self.swap_bytes % 4096 != 0:
            raise ValueError("machine.swap: must be a non-negative multiple of 4 KiB")
        for name, value, lo, hi in (
            ("dirty_background_ratio", self.dirty_background_ratio, 0, 100),
            ("dirty_ratio", self.dirty_ratio, 0, 100),
            ("swappiness", self.swappiness, 0, 100),
            ("dirty_writeback_centisecs", self.dirty_writeback_centisecs, 0, 1 << 31),
            ("dirty_expire_centisecs", self.dirty_expire_centisecs, 0, 1 << 31),
        ):
            if value < lo or value > hi:
                raise ValueError(f"tunables.{name}: {value} is outside {lo}..{hi}")
        if self.timeslice_ns <= 0:
            raise ValueError("kernel.timeslice: must be positive")
        if self.l1_cache_bytes not in (16, 32, 64, 128):
            raise ValueError("kernel.l1_cache_bytes: expected 16, 32, 64 or 128")
        if self.threads_max < 0 or self.threads_max > PID_MAX:
            raise ValueError(f"kernel.threads_max: {self.threads_max} is outside 0..{PID_MAX}")

    def to_state(self) -> dict[str, object]:
        s = self._base_state()
        if self.threads_max:  # absent when derived, as in states saved before it existed
            s["threads_max"] = self.threads_max
        return s

    def _base_state(self) -> dict[str, object]:
        return {
            "release": self.release,
            "writeback": self.writeback,
            "rmap": self.rmap,
            "vmscan": self.vmscan,
            "swapin": self.swapin,
            "swap_bytes": self.swap_bytes,
            "seed": self.seed,
            "dirty_background_ratio": self.dirty_background_ratio,
            "dirty_ratio": self.dirty_ratio,
            "dirty_writeback_centisecs": self.dirty_writeback_centisecs,
            "dirty_expire_centisecs": self.dirty_expire_centisecs,
            "swappiness": self.swappiness,
            "timeslice_ns": self.timeslice_ns,
            "debug_checks": self.debug_checks,
            "poison": self.poison,
            "l1_cache_bytes": self.l1_cache_bytes,
        }


class Kernel(TrapHandler, IrqHandler):
    """The running kernel: what C keeps in globals, plus the trap and interrupt entry points."""

    def __init__(self, machine: Machine, cfg: KernelConfig) -> None:
        self.machine = machine
        self.cfg = cfg
        self.rng = Rng(cfg.seed)
        self.vmstat = PageState()
        self.trace = TraceRing()
        self.tasks: dict[int, Task] = {}
        self.next_pid = 1
        #: max_threads: fork fails with -EAGAIN once this many tasks exist (zombies count:
        #: the model never reaps them).
        self.max_threads = cfg.threads_max or vl_max_threads(machine.mem.nframes)
        self.runqueue: list[int] = []
        self.current = -1
        self.waitqueues: dict[str, list[int]] = {}
        self.programs: list[list[Insn]] = []
        self.program_names: list[str] = []
        #: Checkpoints hit, in order: (name, pid, simulated ns).
        self.checkpoints: list[tuple[str, int, int]] = []
        self.sched_seq = -1
        self.cpu_idle = True
        self.in_cpu_run = False
        #: Simulated ns used so far by the slice in progress (outside Cpu.run).
        self.slice_ns = 0
        #: Pending timer events per pid (schedule_timeout), cancelled on an early wake.
        self.task_timer_seq: dict[int, int] = {}
        #: TIF_NEED_RESCHED for the current task: end the slice at the next return to user.
        self.need_resched = False
        #: Armed scenario breakpoints: point name -> task name ("" = any task). One-shot.
        self.breakpoints: dict[str, str] = {}
        #: Problems found by VL_VERIFY calls made by programs.
        self.verify_failures = 0
        #: What the fault being handled turned out to be ("anon", "zero", "file", "cow", ...),
        #: set by the handler that resolved it for its ``fault`` trace record. Scratch:
        #: not part of the state (it is meaningless between two faults).
        self.vl_fault_kind = ""
        #: Why shrink_list decided what it did with the page in hand (its ``reclaim_page``
        #: record). Scratch, like vl_fault_kind.
        self.vl_reclaim_why = ""
        nframes = machine.mem.nframes
        #: contig_page_data: mem_map, the zone, the buddy allocator.
        self.pgdat: PageAllocator = vl_boot(
            nframes, vl_kernel_image_frames(nframes), self.vmstat, machine.mem, cfg.poison
        )
        self.mem_map: MemMap = self.pgdat.mem_map
        #: empty_zero_page: the frame every anonymous read fault maps (PG_reserved).
        self.zero_page: Page = self._alloc_zero_page()
        # Subsystem state (each module documents its own; boot fills them in).
        disk_bytes = machine.disk.nsectors * 512
        #: The filesystem's superblock (fs.py); mkfs replaces it at boot.
        self.sb: SuperBlock = SuperBlock(max(vl_fs_nblocks(disk_bytes, cfg.swap_bytes), 2))
        #: The data oracle's file half (oracle.py).
        self.oracle: Oracle = Oracle()
        #: The data oracle's user-memory half (oracle_mm.py).
        self.mm_oracle: VlMmOracle = VlMmOracle()
        #: Bios in flight, by disk request id (bio.py).
        self.bios: dict[int, Bio] = {}
        #: Every mm_struct, vm_area_struct and anon_vma, by id (mm_types.py).
        self.mm_registry: VlMmRegistry = VlMmRegistry()
        #: mm/page-writeback.c and mm/pdflush.c globals (writeback.py).
        self.wb: WritebackState = WritebackState()
        #: swap_info[] and swap_list (swapfile.py).
        self.swap: SwapState = SwapState()
        #: swapper_space: the swap cache (swap_state.py).
        self.swapper_space: SwapperSpace = SwapperSpace()
        #: The per-CPU LRU pagevecs (swap.py).
        self.lru_pvecs: LruPvecs = LruPvecs()
        #: kswapd and direct-reclaim bookkeeping (vmscan.py).
        self.kswapd: KswapdState = KswapdState()
        #: out_of_memory's rate limiting and victims (oom_kill.py).
        self.oom: OomState = OomState()

    def _alloc_zero_page(self) -> Page:
        page = alloc_page(self.pgdat, GFP_KERNEL)
        bug_on(page is None, "Kernel: no memory for the zero page")
        assert page is not None
        SetPageReserved(page)
        self.machine.mem.zero_frame(page.pfn)
        return page

    @staticmethod
    def boot(machine: Machine, cfg: KernelConfig) -> Kernel:
        """start_kernel(): build the kernel on ``machine`` and start its kernel threads.

        Raises:
            ValueError: a bad configuration (one line naming the field).
        """
        cfg.validate()
        if cfg.swap_bytes >= machine.disk.nsectors * 512:
            raise ValueError("machine.swap: the swap area must be smaller than the disk")
        from kernelmodel.fs.fs import vl_fs_init
        from kernelmodel.mm.page_writeback import vl_start_pdflush
        from kernelmodel.mm.swapfile import vl_swap_boot
        from kernelmodel.mm.vmscan import vl_start_kswapd

        k = Kernel(machine, cfg)
        machine.attach(k, k)
        vl_fs_init(k)
        vl_swap_boot(k)
        vl_start_pdflush(k)
        vl_start_kswapd(k)
        return k

    # ----------------------------------------------------------------- time and CPU
    def now(self) -> int:
        return self.machine.clock.now

    def charge(self, ns: int) -> None:
        """Account ``ns`` of simulated CPU time to the current slice."""
        if self.in_cpu_run:
            self.machine.cpu.charge(ns)
        else:
            self.slice_ns += ns

    def current_task(self) -> Task:
        task = self.tasks.get(self.current)
        bug_on(task is None, "current_task: no task is running")
        assert task is not None
        return task

    # ----------------------------------------------------------------- tasks
    def add_program(self, name: str, insns: list[Insn]) -> int:
        """Register a user program; returns its id (used by spawn and fork)."""
        self.programs.append(insns)
        self.program_names.append(name)
        return len(self.programs) - 1

    def alloc_pid(self) -> int:
        """alloc_pidmap() (kernel/pid.c): the next pid. Simplified: pids are never freed
        (zombies are not reaped), so there is no wrap-around search; callers check
        ``vl_fork_allowed`` first, and running out here is a BUG."""
        pid = self.next_pid
        bug_on(pid >= PID_MAX, f"alloc_pid: every pid below pid_max ({PID_MAX}) is taken")
        self.next_pid += 1
        return pid

    def vl_nr_threads(self) -> int:
        """nr_threads: tasks that hold a task_struct (every one but TASK_DEAD; the model's
        zombies are never reaped, so they stay counted as unreaped zombies are)."""
        return sum(1 for t in self.tasks.values() if t.state != TASK_DEAD)

    def vl_fork_allowed(self) -> bool:
        """copy_process()'s limits (kernel/fork.c, 2.6.6): ``nr_threads >= max_threads`` and
        a pid (``alloc_pidmap``) must both be available; fork fails with -EAGAIN otherwise.
        The tasks run as root, so RLIMIT_NPROC does not apply to fork (the loader holds the
        boot tasks to it)."""
        return (self.next_pid < PID_MAX - KTHREAD_PID_RESERVE
                and self.vl_nr_threads() < self.max_threads)

    def new_task(self, name: str, prog_id: int, parent: int) -> Task:
        """Create a runnable user task that starts at the beginning of program ``prog_id``.

        The caller sets up ``task.mm_id`` (an empty mm for spawn, a copy for fork).
        """
        bug_on(prog_id < 0 or prog_id >= len(self.programs), "new_task: bad program id")
        pid = self.alloc_pid()
        ctx = CpuContext(pid, self.programs[prog_id], prog_id)
        task = Task(pid, name, ctx)
        task.parent = parent
        self.tasks[pid] = task
        self.runqueue.append(pid)
        self.kick()
        self.trace.emit(self.now(), TR_TASK, pid, parent, 0, f"new {name}")
        return task

    def new_kthread(self, name: str, main_op: KOp) -> Task:
        """Create a kernel thread (no mm, no user program) whose kernel stack is ``main_op``."""
        pid = self.alloc_pid()
        task = Task(pid, name, None)
        task.flags |= PF_KTHREAD
        task.kstack.append(main_op)
        self.tasks[pid] = task
        self.runqueue.append(pid)
        self.kick()
        return task

    def make_runnable(self, task: Task) -> None:
        """try_to_wake_up: put a sleeping task back on the run queue."""
        if task.state in (TASK_ZOMBIE, TASK_DEAD):
            return
        seq = self.task_timer_seq.pop(task.pid, -1)
        if seq >= 0:
            self.machine.clock.cancel(seq)
        task.state = TASK_RUNNING
        task.wait_key = ""
        if task.pid != self.current and task.pid not in self.runqueue:
            self.runqueue.append(task.pid)
        self.kick()

    def schedule_timeout(self, task: Task, ns: int) -> None:
        """Arm a timer that wakes ``task`` after ``ns`` unless it is woken earlier.

        Caller: an op that has just called sleep_on(task, ...) and returns KOP_BLOCKED.
        """
        seq = self.machine.clock.schedule(self.now() + max(ns, 1), EV_TIMER, TIMER_WAKE, task.pid)
        self.task_timer_seq[task.pid] = seq

    def stop_task(self, task: Task, where: str) -> None:
        """Stop a task at a named point (a scenario breakpoint); resume with continue_task."""
        task.state = TASK_STOPPED
        task.stopped_at = where
        if task.pid in self.runqueue:
            self.runqueue.remove(task.pid)
        wake_up(self, vl_stopped_key(task.name))

    def preempt_point(self, task: Task, point: str) -> bool:
        """A named preemption point inside a kernel path ("mpage_writepages:after_clear_dirty").

        Returns True when a scenario armed a breakpoint here for this task: the task is then
        stopped, and the op must return KOP_BLOCKED having already moved to its next phase,
        so that ``continue_task`` resumes it right after the point.
        """
        want = self.breakpoints.get(point)
        if want is None or (want != "" and want != task.name):
            return False
        del self.breakpoints[point]
        self.stop_task(task, point)
        self.trace.emit(self.now(), TR_TASK, task.pid, 0, 0, f"stopped at {point}")
        return True

    def continue_task(self, task: Task) -> None:
        bug_on(task.state != TASK_STOPPED, "continue_task: task is not stopped")
        task.stopped_at = ""
        self.make_runnable(task)

    def vl_stopped_task(self, name: str, point: str) -> Task | None:
        """The first task (in pid order) named ``name`` stopped at a breakpoint, or None.

        ``point`` "" matches any point; otherwise the task must be stopped at ``point``.
        """
        for task in self.tasks.values():
            stopped = task.state == TASK_STOPPED and task.stopped_at != ""
            if stopped and task.name == name and (point == "" or task.stopped_at == point):
                return task
        return None

    def vl_scenario_call(self, task: Task, insn: Insn) -> int:
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
            self.breakpoints[point] = name
            self.trace.emit(self.now(), TR_TASK, task.pid, 0, 0, f"break {name} at {point}")
        elif nr == VL_AWAIT_STOPPED:
            if self.vl_stopped_task(name, point) is None:
                sleep_on(self, task, vl_stopped_key(name))
                return TRAP_STOP
        elif nr == VL_CONTINUE:
            ret = -ESRCH
            for other in list(self.tasks.values()):
                if other.name == name and other.state == TASK_STOPPED and other.stopped_at:
                    self.trace.emit(self.now(), TR_TASK, other.pid, task.pid, 0,
                                    f"continue from {other.stopped_at}")
                    self.continue_task(other)
                    ret = 0
        else:
            self.vl_power_cut(task)
        ctx.retval = ret
        ctx.pc += 1
        if task.state != TASK_RUNNING or self.need_resched:
            self.need_resched = False
            return TRAP_STOP
        return TRAP_CONTINUE

    def vl_power_cut(self, task: Task) -> None:
        """The machine loses power now: the disk drops its queued and in-flight requests
        (completed writes stay on the medium) and the ``power_cut`` checkpoint is recorded,
        where a runner ends the run (RAM does not survive; nothing after this is meaningful).
        """
        self.vl_power_cut_at(task.pid)
        self.need_resched = True

    def vl_power_cut_at(self, pid: int) -> None:
        """The power cut itself, between events or from a task (``pid``; 0 for the runner's
        own call, ``Session.power_cut``): the disk drops what it has not completed and the
        ``power_cut`` checkpoint is recorded."""
        lost = self.machine.disk.power_cut()
        self.trace.emit(self.now(), TR_TASK, pid, lost, 0, "power cut")
        self.checkpoints.append((POWER_CUT_CHECKPOINT, pid, self.now()))
        self.trace.emit(self.now(), TR_CHECKPOINT, pid, len(self.checkpoints), 0,
                        POWER_CUT_CHECKPOINT)

    def release_task(self, task: Task, code: int) -> None:
        """The last step of do_exit: the task becomes a zombie and leaves every queue.

        Caller: the exit path, after the mm and files were released.
        """
        task.exit_code = code
        vl_remove_from_waitqueue(self, task)
        task.state = TASK_ZOMBIE
        task.kstack.clear()
        if task.pid in self.runqueue:
            self.runqueue.remove(task.pid)
        seq = self.task_timer_seq.pop(task.pid, -1)
        if seq >= 0:
            self.machine.clock.cancel(seq)
        self.trace.emit(self.now(), TR_TASK, task.pid, code, 0, f"exit {task.name}")

    def all_user_tasks_exited(self) -> bool:
        for task in self.tasks.values():
            if not task.is_kthread() and task.state not in (TASK_ZOMBIE, TASK_DEAD):
                return False
        return True

    # ----------------------------------------------------------------- scheduler
    def kick(self) -> None:
        """Make sure a scheduler tick is pending if there is something to run."""
        if self.sched_seq < 0 and self.current < 0:
            self.sched_seq = self.machine.clock.schedule(self.now(), EV_TIMER, TIMER_SCHED, 0)
            self.cpu_idle = False

    def schedule(self) -> None:
        """schedule(): run one slice of the next runnable task, then arm the next tick."""
        self.sched_seq = -1
        while self.runqueue:
            pid = self.runqueue.pop(0)
            task = self.tasks.get(pid)
            if task is not None and task.state == TASK_RUNNING:
                self.run_slice(task)
                return
        self.cpu_idle = True

    def run_slice(self, task: Task) -> None:
        self.current = task.pid
        self.slice_ns = 0
        vl_switch_mm(self, task)
        if (task.flags & PF_MEMDIE) != 0 and vl_oom_kill_pending(self, task, True):
            # an OOM victim dies at its first safe point: the start of its next slice
            self.current = -1
            self.kick()
            return
        budget = self.cfg.timeslice_ns
        r = self.run_kstack(task, budget)
        ctx = task.ctx
        if r == KOP_DONE and task.state == TASK_RUNNING and ctx is not None:
            remaining = budget - self.slice_ns
            if remaining > 0:
                self.in_cpu_run = True
                self.machine.cpu.run(ctx, remaining, self)
                self.in_cpu_run = False
                self.slice_ns += self.machine.cpu.spent_ns
        used = max(self.slice_ns, 1)
        task.cpu_ns += used
        self.current = -1
        if task.state == TASK_RUNNING:
            self.runqueue.append(task.pid)
        self.sched_seq = self.machine.clock.schedule(self.now() + used, EV_TIMER, TIMER_SCHED, 0)
        self.cpu_idle = False

    def slice_budget_left(self) -> int:
        used = self.machine.cpu.spent_ns if self.in_cpu_run else self.slice_ns
        return self.cfg.timeslice_ns - used

    def run_kstack(self, task: Task, budget: int) -> int:
        """Step the top of ``task``'s kernel stack until it empties, sleeps or the slice ends.

        Returns KOP_DONE (stack empty), KOP_BLOCKED (the task left the CPU) or KOP_CONTINUE
        (budget spent, work left).
        """
        while task.kstack:
            if task.state != TASK_RUNNING:
                return KOP_BLOCKED
            if self.slice_budget_left() <= 0:
                return KOP_CONTINUE
            op = task.kstack[-1]
            self.charge(KOP_STEP_NS)
            r = op.step(self, task)
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
        return KOP_DONE if task.state == TASK_RUNNING else KOP_BLOCKED

    # ----------------------------------------------------------------- traps
    def handle_page_fault(self, ctx: CpuContext, vaddr: int, error_code: int) -> int:
        task = self.current_task()
        self.charge(FAULT_NS)
        return do_page_fault(self, task, vaddr, error_code)

    def handle_syscall(self, ctx: CpuContext, insn: Insn) -> int:
        task = self.current_task()
        self.charge(SYSCALL_NS)
        if VL_BREAK <= insn.a <= VL_POWER_CUT:
            return self.vl_scenario_call(task, insn)
        op = sys_call(self, task, insn)
        if op is None:
            # completed synchronously inside sys_call (which set retval and advanced pc)
            if task.state != TASK_RUNNING or self.need_resched:
                self.need_resched = False
                return TRAP_STOP
            return TRAP_CONTINUE
        op.is_syscall = True
        task.kstack.append(op)
        r = self.run_kstack(task, self.cfg.timeslice_ns)
        if r == KOP_DONE and task.state == TASK_RUNNING:
            if self.need_resched:
                self.need_resched = False
                return TRAP_STOP
            return TRAP_CONTINUE
        return TRAP_STOP

    def handle_exit(self, ctx: CpuContext) -> None:
        do_exit(self, self.current_task(), 0)

    def note_store(self, ctx: CpuContext, vaddr: int, value: int) -> None:
        oracle_note_store(self, self.current_task(), vaddr, value)

    def note_store_run(self, ctx: CpuContext, vaddr: int, stride: int, values: array[int]) -> None:
        oracle_note_store_run(self, self.current_task(), vaddr, stride, values)

    def note_load(self, ctx: CpuContext, vaddr: int, expected: int, got: int) -> None:
        oracle_note_load_mismatch(self, self.current_task(), vaddr, expected, got)

    def record_checkpoint(self, task: Task, name: str) -> None:
        """A program reached ``checkpoint NAME``: record it so a runner can stop here."""
        self.checkpoints.append((name, task.pid, self.now()))
        self.need_resched = True
        self.trace.emit(self.now(), TR_CHECKPOINT, task.pid, len(self.checkpoints), 0, name)

    # ----------------------------------------------------------------- interrupts
    def handle_disk_irq(self, req: DiskRequest) -> None:
        bio_endio_request(self, req)

    def handle_timer(self, timer_id: int, arg: int) -> None:
        if timer_id == TIMER_SCHED:
            self.schedule()
        elif timer_id == TIMER_WAKE:
            self.task_timer_seq.pop(arg, None)
            task = self.tasks.get(arg)
            if task is not None and task.state != TASK_RUNNING and task.state != TASK_STOPPED:
                vl_remove_from_waitqueue(self, task)
                self.make_runnable(task)
        elif timer_id == TIMER_KUPDATE:
            from kernelmodel.mm.page_writeback import wb_timer_fn

            wb_timer_fn(self)
        else:
            bug_on(True, f"handle_timer: unknown timer {timer_id}")

    # ----------------------------------------------------------------- the runner's API
    def create_file(self, path: str, size: int, content: str, seed: int) -> None:
        """A file that exists at boot, already on disk (content: zero, pattern or random)."""
        from kernelmodel.fs.fs import vl_create_file

        vl_create_file(self, path, size, content, seed)

    def spawn(self, name: str, prog_id: int) -> int:
        """Start a user task running program ``prog_id`` in a fresh address space."""
        from kernelmodel.kernel.fork import vl_exec_mm

        task = self.new_task(name, prog_id, 0)
        ok = vl_exec_mm(self, task)
        bug_on(not ok, "spawn: no memory for a new mm")
        return task.pid

    def metrics(self) -> dict[str, int]:
        """Every counter of the model and the hardware, by name (the runner's metrics)."""
        from kernelmodel.include.page import vl_sizeof_struct_page_for

        m = self.vmstat.as_dict()
        disk = self.machine.disk
        mmu = self.machine.mmu
        zone = self.pgdat.zone
        m["nr_free_pages"] = zone.free_pages
        m["nr_active"] = zone.nr_active
        m["nr_inactive"] = zone.nr_inactive
        m["pages_min"] = zone.pages_min
        m["pages_low"] = zone.pages_low
        m["pages_high"] = zone.pages_high
        m["total_pages"] = self.mem_map.nframes
        m["head_travel_sectors"] = disk.head_travel
        m["disk_busy_ns"] = disk.busy_ns
        m["disk_requests"] = disk.requests
        m["disk_reads"] = disk.reads
        m["disk_writes"] = disk.writes
        m["disk_sectors_read"] = disk.sectors_read
        m["disk_sectors_written"] = disk.sectors_written
        m["disk_seeks"] = disk.seeks
        m["disk_max_queue_depth"] = disk.max_queue_depth
        m["disk_merges"] = disk.merges
        m["tlb_hits"] = mmu.tlb_hits
        m["tlb_misses"] = mmu.tlb_misses
        m["page_walks"] = mmu.page_walks
        m["tlb_flushes"] = mmu.tlb_flushes
        m["invlpgs"] = mmu.invlpgs
        m["cpu_accesses"] = self.machine.cpu.accesses
        m["fsync_latency_ns"] = self.wb.fsync_latency_max
        m["fsync_latency_last_ns"] = self.wb.fsync_latency_last
        m["fsync_done"] = self.wb.fsync_done
        m["fsync_pending"] = self.vl_fsync_pending()
        m["fsync_pages_visited"] = self.vmstat.fsync_pages_visited + self.vl_fsync_visiting()
        m["nr_swap_pages"] = self.vl_nr_swap_pages()
        m["swap_used_pages"] = self.vl_total_swap_pages() - self.vl_nr_swap_pages()
        m["struct_page_bytes"] = (vl_sizeof_struct_page_for(self.cfg.release, self.cfg.writeback)
                                  * self.mem_map.nframes)
        m["oracle_read_mismatches"] = self.oracle.read_mismatches
        m["verify_failures"] = self.verify_failures
        m["tasks"] = len(self.tasks)
        m["checkpoints"] = len(self.checkpoints)
        return m

    def vl_fsync_pending(self) -> int:
        """Tasks inside an fsync or fdatasync call (begun, not returned)."""
        n = 0
        for task in self.tasks.values():
            for op in task.kstack:
                if op.is_syscall and (op.name == "fsync" or op.name == "fdatasync"):
                    n += 1
                    break
        return n

    def vl_fsync_visiting(self) -> int:
        """Pages looked up so far by fsync calls still running (the vmstat counter adds a
        call's pages when it returns; a livelocked fsync would otherwise show none)."""
        from kernelmodel.fs.fsync import FsyncOp

        n = 0
        for task in self.tasks.values():
            for op in task.kstack:
                if isinstance(op, FsyncOp):
                    n += op.vl_visited_so_far()
        return n

    def vl_nr_swap_pages(self) -> int:
        from kernelmodel.mm.swapfile import nr_swap_pages

        return nr_swap_pages(self)

    def vl_total_swap_pages(self) -> int:
        from kernelmodel.mm.swapfile import total_swap_pages

        return total_swap_pages(self)

    def check_invariants(self) -> list[str]:
        """The invariant checker (check.py and the parts it calls); [] when all hold."""
        from kernelmodel.check.check import check_invariants

        return check_invariants(self)

    def verify_data(self) -> list[str]:
        """The data oracle: every file byte and every byte of user memory; [] when all match."""
        from kernelmodel.oracle.oracle import vl_verify_files
        from kernelmodel.oracle.oracle_mm import vl_verify_memory

        return vl_verify_files(self) + vl_verify_memory(self)

    def verify_durable(self) -> tuple[int, list[str]]:
        """Acknowledged bytes the disk does not hold, and the pages concerned.

        Bytes a returned fsync, fdatasync or sync acknowledged that the disk's medium does
        not hold: what a power cut now loses (oracle.vl_verify_durable).
        """
        from kernelmodel.oracle.oracle import vl_verify_durable

        return vl_verify_durable(self)

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        """The complete state, as msgpack-ready plain data (the snapshot and the state hash).

        ``borrow``: RAM's frames and the disk's medium are lent, not copied
        (machine/borrowed.py), for a caller that walks the state before anything runs again.

        Two reverse maps cannot be re-derived from the page tables, so they are stored: the
        per-page pte chains (rmap=pte_chain; their order) under "pte_chains", and the anonmms
        with each anonymous page's anonmm (rmap=anonmm; where it was first mapped) under
        "anonmm".
        """
        state = self._components_state(borrow)
        if self.cfg.rmap == "pte_chain":
            from kernelmodel.mm.rmap_pte_chain import pc_to_state

            state["pte_chains"] = pc_to_state(self)
        elif self.cfg.rmap == "anonmm":
            from kernelmodel.mm.rmap_anonmm import am_to_state

            state["anonmm"] = am_to_state(self)
        return state

    def _components_state(self, borrow: bool) -> dict[str, object]:
        return {
            "machine": self.machine.to_state(borrow),
            "cfg": self.cfg.to_state(),
            "kernel": self._core_state(),
            "vmstat": self.vmstat.to_state(),
            "trace": self.trace.to_state(),
            "rng": self.rng.to_state(),
            "mem_map": self.mem_map.to_state(),
            "pgdat": self.pgdat.to_state(),
            "zero_page": self.zero_page.pfn,
            "sb": self.sb.to_state(),
            "oracle": self.oracle.to_state(self),
            "mm_oracle": self.mm_oracle.to_state(self),
            "bios": [b.to_state() for b in self.bios.values()],
            "mm": self.mm_registry.to_state(),
            "wb": self.wb.to_state(),
            "swap": self.swap.to_state(),
            "swapper_space": self.swapper_space.to_state(),
            "lru_pvecs": self.lru_pvecs.to_state(),
            "kswapd": self.kswapd.to_state(),
            "oom": self.oom.to_state(),
        }

    def _core_state(self) -> dict[str, object]:
        tasks: list[object] = []
        for task in self.tasks.values():
            tasks.append(vl_task_state(task))
        return {
            "tasks": tasks,
            "next_pid": self.next_pid,
            "runqueue": list(self.runqueue),
            "current": self.current,
            "waitqueues": {key: list(q) for key, q in self.waitqueues.items()},
            "programs": [[insn.to_state() for insn in prog] for prog in self.programs],
            "program_names": list(self.program_names),
            "checkpoints": [[n, p, t] for (n, p, t) in self.checkpoints],
            "sched_seq": self.sched_seq,
            "cpu_idle": self.cpu_idle,
            "task_timer_seq": {str(pid): seq for pid, seq in self.task_timer_seq.items()},
            "need_resched": self.need_resched,
            "breakpoints": dict(self.breakpoints),
            "verify_failures": self.verify_failures,
        }


def vl_stopped_key(name: str) -> str:
    """Wait-queue key of the tasks waiting for a task named ``name`` to stop."""
    return f"stopped {name}"


def vl_task_state(task: Task) -> dict[str, object]:
    """A task as plain data: identity, state, user context and kernel stack."""
    ctx = task.ctx
    return {
        "pid": task.pid,
        "name": task.name,
        "state": task.state,
        "flags": task.flags,
        "ctx": ctx.to_state() if ctx is not None else None,
        "kstack": [op.to_state() for op in task.kstack],
        "kret": task.kret,
        "wait_key": task.wait_key,
        "mm_id": task.mm_id,
        "files": {str(fd): fid for fd, fid in task.files.items()},
        "next_fd": task.next_fd,
        "parent": task.parent,
        "exit_code": task.exit_code,
        "min_flt": task.min_flt,
        "maj_flt": task.maj_flt,
        "nvcsw": task.nvcsw,
        "cpu_ns": task.cpu_ns,
        "dirtied": task.dirtied,
        "stopped_at": task.stopped_at,
    }
