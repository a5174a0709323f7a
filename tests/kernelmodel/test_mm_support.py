"""Shared helpers for the process-memory tests (and a few tests of the helpers themselves).

``make_kernel`` boots a small machine. ``access`` performs one user access the way the CPU
does (MMU.probe, then do_page_fault and a retry), so fault-path unit tests need no scheduler.
``run_events`` drives the real scheduler for end-to-end programs.
"""

from __future__ import annotations

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check_mm import check_mm
from kernelmodel.include.mm_types import MmStruct
from kernelmodel.include.page import Page
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.fork import vl_exec_mm
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.memory import do_page_fault
from kernelmodel.mm.pgtable import vl_switch_mm
from kernelmodel.oracle.oracle_mm import oracle_note_store, vl_verify_memory
from machine.board import Machine, MachineConfig
from machine.interfaces import TRAP_RETRY
from machine.isa import Insn

MiB = 1 << 20


def make_kernel(
    mem: int = 4 * MiB, disk: int = 16 * MiB, swap: int = 4 * MiB, tlb: int = 64,
    rmap: str = "anon_vma", vmscan: str = "2.6.6", threads_max: int = 0,
) -> Kernel:
    """Boot a kernel on a small machine, with the given reverse-mapping design (and
    threads-max: 0 for fork_init's default, 64 tasks on 4 MiB).

    These machines run 2.6.6's reclaim unless told otherwise: 2.6.7's stalls a machine this
    small once its kswapd has scanned the zone twice while every page is being written
    (docs/scenarios.md); test_vmscan_267.py and the scenarios test 2.6.7's.
    """
    m = Machine(MachineConfig(mem_bytes=mem, disk_bytes=disk, tlb_entries=tlb))
    return vl_start_kernel(m, KernelConfig(swap_bytes=swap, rmap=rmap, vmscan=vmscan,
                                       threads_max=threads_max))


def new_task(k: Kernel, name: str = "t", prog: list[Insn] | None = None) -> Task:
    """A user task with an empty mm (not run by these helpers unless the scheduler runs)."""
    pid = k.add_program(name, prog if prog is not None else [])
    task = k.new_task(name, pid, 0)
    assert vl_exec_mm(k, task)
    return task


def anon_map(k: Kernel, task: Task, addr: int, length: int = 64 << 10) -> None:
    """mmap an anonymous private read-write range at ``addr`` (MAP_FIXED)."""
    from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
    from kernelmodel.mm.mmap import do_mmap_pgoff

    r = do_mmap_pgoff(k, mm_of(k, task), -1, 0, addr, length, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_FIXED, 0)
    assert r == addr


def fork_child(k: Kernel, parent: Task) -> Task:
    """fork's work without the scheduler: dup_mm, a child task that never runs user code,
    and the memory oracle's copy."""
    from kernelmodel.kernel.fork import dup_mm
    from kernelmodel.oracle.oracle_mm import vl_oracle_fork
    from machine.isa import OP_COMPUTE

    mm = dup_mm(k, mm_of(k, parent))
    assert mm is not None
    child = k.new_task("child", k.add_program("child", [Insn(OP_COMPUTE, 10**15)]), parent.pid)
    child.mm_id = mm.mm_id
    vl_oracle_fork(k, parent.mm_id, mm.mm_id)
    return child


def page_at(k: Kernel, task: Task, vaddr: int) -> Page:
    """The page a present pte maps at ``vaddr``."""
    from kernelmodel.mm.pgtable import pte_present, vl_read_pte

    pte = vl_read_pte(k.machine.mem, mm_of(k, task).pgd, vaddr)
    assert pte_present(pte)
    return k.mem_map.pages[pte >> 12]


def mm_of(k: Kernel, task: Task) -> MmStruct:
    return k.mm_registry.mms[task.mm_id]


def access(k: Kernel, task: Task, vaddr: int, write: bool, value: int = 0) -> bool:
    """One user u32 access by ``task`` through the MMU; faults go to do_page_fault.

    Returns:
        True when the access completed; False when the fault handler stopped the task (it
        slept or was killed).
    """
    assert (vaddr & 0xFFF) <= 0xFFC, "access: page-crossing accesses need the real CPU"
    mmu = k.machine.mmu
    mem = k.machine.mem
    k.current = task.pid
    vl_switch_mm(k, task)
    try:
        for _ in range(8):
            paddr = mmu.probe(vaddr, write, True)
            if paddr >= 0:
                if write:
                    mem.write_u32(paddr, value)
                    oracle_note_store(k, task, vaddr, value)
                return True
            if do_page_fault(k, task, int(mmu.fault_vaddr), int(mmu.fault_error)) != TRAP_RETRY:
                return False
        raise AssertionError(f"access {vaddr:#x}: fault loop")
    finally:
        k.current = -1


def load(k: Kernel, task: Task, vaddr: int) -> int:
    """The u32 a user load by ``task`` at ``vaddr`` reads (faulting it in)."""
    mmu = k.machine.mmu
    assert access(k, task, vaddr, False)
    k.current = task.pid
    paddr = mmu.probe(vaddr, False, True)
    k.current = -1
    assert paddr >= 0
    return k.machine.mem.read_u32(paddr)


def run_events(k: Kernel, limit: int = 100_000) -> int:
    """Dispatch events until none is pending (or ``limit``); returns how many ran."""
    n = 0
    while n < limit and k.machine.step():
        n += 1
    return n


def problems(k: Kernel) -> list[str]:
    """check_mm plus the memory oracle."""
    return check_mm(k) + vl_verify_memory(k)


def test_make_kernel_gives_empty_address_space() -> None:
    k = make_kernel()
    t = new_task(k)
    mm = mm_of(k, t)
    assert mm.mmap == [] and mm.rss == 0 and mm.nr_ptes == 0
    assert problems(k) == []


def test_access_outside_any_vma_kills_only_that_task() -> None:
    k = make_kernel()
    a = new_task(k, "a")
    b = new_task(k, "b")
    assert not access(k, a, 0x1000, False)
    assert a.exit_code == 139 and a.mm_id == -1
    assert b.mm_id >= 0 and k.vmstat.segfaults == 1
    assert problems(k) == []
