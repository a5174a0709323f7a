"""The kernel instance: the globals, and the trap and interrupt entry points (2.6.6).

One ``Kernel`` object holds what C keeps in globals (mem_map, the zone, the task list, wait
queues, page_state, the swap areas, the filesystem). Model functions that need that state take
it as their first argument ``k``: this is the model's one systematic departure from the
kernel's signatures.

The rest of what boots and runs the kernel is in the modules the kernel keeps it in:
``init/main.py`` (start_kernel), ``config.py`` (``KernelConfig``: the release profile's designs
and the tunables), ``sched.py`` (tasks, the run queue and the slice, kernel/sched.c; the
scheduler methods below forward to it), ``syscalls.py`` (the system-call entry and table) and
``vl_scenario.py`` (the scenario debugger's breakpoints, checkpoints and power cut).

Lock ordering: not modelled (one CPU, no preemption inside a kernel op step); each op step is
atomic, and a step that would sleep returns KOP_BLOCKED instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Final

from kernelmodel.fs.bio import Bio, bio_endio_request
from kernelmodel.fs.fs import SuperBlock, vl_fs_nblocks
from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import VlMmRegistry
from kernelmodel.include.mmzone import PageAllocator
from kernelmodel.include.page import MemMap, Page, SetPageReserved
from kernelmodel.include.swap import KswapdState, LruPvecs, OomState, SwapState
from kernelmodel.include.timer import TIMER_KUPDATE, TIMER_SCHED, TIMER_WAKE
from kernelmodel.include.vmstat import PageState, TraceRing
from kernelmodel.include.writeback import WritebackState
from kernelmodel.kernel import sched, vl_scenario
from kernelmodel.kernel.config import KernelConfig as KernelConfig
from kernelmodel.kernel.exit import do_exit
from kernelmodel.kernel.syscalls import vl_system_call
from kernelmodel.kernel.task import TASK_RUNNING, TASK_STOPPED, KOp, Task, vl_host_pause
from kernelmodel.kernel.vl_data_hooks import VlFileOracleHooks, VlMmOracleHooks
from kernelmodel.kernel.wait import vl_remove_from_waitqueue
from kernelmodel.lib.rng import Rng
from kernelmodel.mm.memory import do_page_fault
from kernelmodel.mm.page_alloc import GFP_KERNEL, alloc_page, vl_boot
from kernelmodel.mm.swap_state import SwapperSpace
from machine.board import Machine
from machine.cpu import CpuContext
from machine.disk import DiskRequest
from machine.interfaces import IrqHandler, TrapHandler
from machine.isa import Insn

#: Simulated costs of kernel entry (ns). Coarse, documented, and the same in every profile.
SYSCALL_NS: Final = 300
FAULT_NS: Final = 800


def vl_kernel_image_frames(nframes: int) -> int:
    """Frames reserved for the kernel image after frame 0: 1 MiB, less on tiny machines."""
    return min(256, max(nframes // 16, 1))


def vl_max_threads(nframes: int) -> int:
    """fork_init() (kernel/fork.c, 2.6.6): the default threads-max, ``mempages /
    (THREAD_SIZE / PAGE_SIZE) / 8`` with i386's 8 KiB kernel stacks, and at least 20.

    init's RLIMIT_NPROC is half of it (``init_task.rlim[RLIMIT_NPROC]``).
    """
    return max(nframes // 16, 20)
class Kernel(TrapHandler, IrqHandler):
    """The running kernel: what C keeps in globals, plus the trap and interrupt entry points."""

    # The "kernel" section of a snapshot: the scheduler's fields below marked # state (the
    # components are saved by their own declarations, in to_state). Loaded in place into the
    # kernel a restore builds; tasks last, as their contexts name the programs.
    # state into
    def __init__(
        self, machine: Machine, cfg: KernelConfig, oracle: VlFileOracleHooks,
        mm_oracle: VlMmOracleHooks,
    ) -> None:
        """The globals of a kernel about to boot on ``machine``; ``oracle`` and ``mm_oracle``
        are the data oracles it reports to (kernel/vl_data_hooks.py), empty."""
        self.machine = machine
        self.cfg = cfg
        self.rng = Rng(cfg.seed)
        self.vmstat = PageState()
        self.trace = TraceRing()
        self.tasks: dict[int, Task] = {}  # state: keyed=pid
        self.next_pid: int = 1  # state
        #: max_threads: fork fails with -EAGAIN once this many tasks exist (zombies count:
        #: the model never reaps them).
        self.max_threads = cfg.threads_max or vl_max_threads(machine.mem.nframes)
        self.runqueue: list[int] = []  # state
        self.current: int = -1  # state
        self.waitqueues: dict[str, list[int]] = {}  # state
        self.programs: list[list[Insn]] = []  # state
        self.program_names: list[str] = []  # state
        #: Checkpoints hit, in order: (name, pid, simulated ns).
        self.checkpoints: list[tuple[str, int, int]] = []  # state
        self.sched_seq: int = -1  # state
        self.cpu_idle: bool = True  # state
        self.in_cpu_run = False
        #: Simulated ns used so far by the slice in progress (outside Cpu.run).
        self.slice_ns = 0
        #: Pending timer events per pid (schedule_timeout), cancelled on an early wake.
        self.task_timer_seq: dict[int, int] = {}  # state: str_keys
        #: TIF_NEED_RESCHED for the current task: end the slice at the next return to user.
        self.need_resched: bool = False  # state
        #: Armed scenario breakpoints: point name -> task name ("" = any task). One-shot.
        self.breakpoints: dict[str, str] = {}  # state
        #: Problems found by VL_VERIFY calls made by programs.
        self.verify_failures: int = 0  # state
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
        #: The data oracle's file half (oracle/oracle.py), as the hooks kernel paths call.
        self.oracle: VlFileOracleHooks = oracle
        #: The data oracle's user-memory half (oracle/oracle_mm.py), likewise.
        self.mm_oracle: VlMmOracleHooks = mm_oracle
        #: The invariant checker (check/check.py ``check_invariants``), attached by whoever
        #: boots or restores the kernel; None: none attached.
        self.vl_checker: Callable[[Kernel], list[str]] | None = None
        #: The host's pause hook (task.vl_host_pause), set only while the dashboard runs an
        #: event it may suspend (scenarios/finestep.py); None: no pauses. Not state.
        self.vl_pause_hook: Callable[[], None] | None = None
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

    # ----------------------------------------------------------------- scheduler
    # The scheduler's entry points, as kernel paths and runners call them on ``k``; the code
    # is kernel/sched.py's (and the scenario debugger's, vl_scenario.py).
    def new_task(self, name: str, prog_id: int, parent: int) -> Task:
        return sched.new_task(self, name, prog_id, parent)

    def new_kthread(self, name: str, main_op: KOp) -> Task:
        return sched.new_kthread(self, name, main_op)

    def alloc_pid(self) -> int:
        return sched.alloc_pid(self)

    def vl_fork_allowed(self) -> bool:
        return sched.vl_fork_allowed(self)

    def make_runnable(self, task: Task) -> None:
        sched.make_runnable(self, task)

    def schedule_timeout(self, task: Task, ns: int) -> None:
        sched.schedule_timeout(self, task, ns)

    def release_task(self, task: Task, code: int) -> None:
        sched.release_task(self, task, code)

    def do_exit(self, task: Task, code: int) -> None:
        """do_exit (kernel/exit.c) for the paths in mm/ that kill a task (a fatal fault, the
        OOM killer's victim); C declares it in include/linux/kernel.h."""
        do_exit(self, task, code)

    def schedule(self) -> None:
        sched.schedule(self)

    def run_slice(self, task: Task) -> None:
        sched.run_slice(self, task)

    def all_user_tasks_exited(self) -> bool:
        return sched.all_user_tasks_exited(self)

    def preempt_point(self, task: Task, point: str) -> bool:
        return vl_scenario.preempt_point(self, task, point)

    def stop_task(self, task: Task, where: str) -> None:
        vl_scenario.stop_task(self, task, where)

    def continue_task(self, task: Task) -> None:
        vl_scenario.continue_task(self, task)

    def record_checkpoint(self, task: Task, name: str) -> None:
        vl_scenario.record_checkpoint(self, task, name)

    def vl_power_cut_at(self, pid: int) -> None:
        vl_scenario.vl_power_cut_at(self, pid)

    # ----------------------------------------------------------------- traps
    def handle_page_fault(self, ctx: CpuContext, vaddr: int, error_code: int) -> int:
        vl_host_pause(self)  # one slice can take a thousand faults
        task = self.current_task()
        self.charge(FAULT_NS)
        return do_page_fault(self, task, vaddr, error_code)

    def handle_syscall(self, ctx: CpuContext, insn: Insn) -> int:
        task = self.current_task()
        self.charge(SYSCALL_NS)
        return vl_system_call(self, task, insn)

    def handle_exit(self, ctx: CpuContext) -> None:
        do_exit(self, self.current_task(), 0)

    def note_store(self, ctx: CpuContext, vaddr: int, value: int) -> None:
        self.mm_oracle.note_store(self, self.current_task(), vaddr, value)

    def note_store_run(self, ctx: CpuContext, vaddr: int, stride: int, values: array[int]) -> None:
        self.mm_oracle.note_store_run(self, self.current_task(), vaddr, stride, values)

    def note_load(self, ctx: CpuContext, vaddr: int, expected: int, got: int) -> None:
        self.mm_oracle.note_load_mismatch(self, self.current_task(), vaddr, expected, got)

    # ----------------------------------------------------------------- interrupts
    def handle_disk_irq(self, req: DiskRequest) -> None:
        bio_endio_request(self, req)

    def handle_timer(self, timer_id: int, arg: int) -> None:
        if timer_id == TIMER_SCHED:
            sched.schedule(self)
        elif timer_id == TIMER_WAKE:
            self.task_timer_seq.pop(arg, None)
            task = self.tasks.get(arg)
            if task is not None and task.state != TASK_RUNNING and task.state != TASK_STOPPED:
                vl_remove_from_waitqueue(self, task)
                sched.make_runnable(self, task)
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

        task = sched.new_task(self, name, prog_id, 0)
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
        """nr_swap_pages (include/linux/swap.h): free swap slots."""
        return self.swap.nr_swap_pages

    def vl_total_swap_pages(self) -> int:
        """total_swap_pages (include/linux/swap.h): usable swap slots."""
        return self.swap.total_swap_pages

    def check_invariants(self) -> list[str]:
        """The invariant checker attached to this kernel; [] when all hold."""
        checker = self.vl_checker
        bug_on(checker is None, "check_invariants: no invariant checker attached")
        assert checker is not None
        return checker(self)

    def verify_data(self) -> list[str]:
        """The data oracle: every file byte and every byte of user memory; [] when all match."""
        return self.oracle.verify(self) + self.mm_oracle.verify(self)

    def verify_durable(self) -> tuple[int, list[str]]:
        """Bytes a returned fsync, fdatasync or sync acknowledged that the disk's medium does
        not hold (what a power cut now loses), and the pages concerned."""
        return self.oracle.verify_durable(self)

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
        from kernelmodel.fs.state_generated import save_bio, save_super_block
        from kernelmodel.include.state_generated import (
            save_mem_map,
            save_page_allocator,
            save_page_state,
            save_vl_mm_registry,
            save_writeback_state,
        )
        from kernelmodel.include.swap_generated import (
            save_kswapd_state,
            save_lru_pvecs,
            save_oom_state,
            save_swap_state,
        )
        from kernelmodel.include.trace_generated import save_trace_ring
        from kernelmodel.kernel.state_generated import save_kernel, save_kernel_config
        from kernelmodel.lib.state_generated import save_rng
        from kernelmodel.mm.state_generated import save_swapper_space

        return {
            "machine": self.machine.to_state(borrow),
            "cfg": save_kernel_config(self.cfg),
            "kernel": save_kernel(self),
            "vmstat": save_page_state(self.vmstat),
            "trace": save_trace_ring(self.trace),
            "rng": save_rng(self.rng),
            "mem_map": save_mem_map(self.mem_map),
            "pgdat": save_page_allocator(self.pgdat),
            "zero_page": self.zero_page.pfn,
            "sb": save_super_block(self.sb),
            "oracle": self.oracle.to_state(self),
            "mm_oracle": self.mm_oracle.to_state(self),
            "bios": [save_bio(b) for b in self.bios.values()],
            "mm": save_vl_mm_registry(self.mm_registry),
            "wb": save_writeback_state(self.wb),
            "swap": save_swap_state(self.swap),
            "swapper_space": save_swapper_space(self.swapper_space),
            "lru_pvecs": save_lru_pvecs(self.lru_pvecs),
            "kswapd": save_kswapd_state(self.kswapd),
            "oom": save_oom_state(self.oom),
        }

    def vl_check_state(self) -> None:
        """The loader's check of the scheduler's state: every id names a live task, a program
        has a name, and the state was saved between events."""
        if len(self.programs) != len(self.program_names):
            raise ValueError("kernel state: programs and program_names differ in length")
        for pid in self.runqueue:
            if pid not in self.tasks:
                raise ValueError(f"kernel state: run queue holds unknown pid {pid}")
        if self.current != -1:
            raise ValueError("kernel state: a snapshot is taken between events (current must "
                             "be -1)")
        for key, q in self.waitqueues.items():
            for pid in q:
                if pid not in self.tasks:
                    raise ValueError(f"kernel state: wait queue {key!r} holds unknown pid {pid}")
        if self.next_pid <= max(self.tasks.keys(), default=0):
            raise ValueError("kernel state: next_pid is not above every pid")
