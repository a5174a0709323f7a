"""Shared helpers for the swap and reclaim tests (no tests of its own).

``make_kernel`` boots a small machine and makes sure the reclaim side is set up (swap area,
pagevecs, kswapd). ``vl_fill_reclaim_fields`` gives an interpreted Kernel the state objects of
the swap/reclaim modules if kernel.py does not create them yet.
"""

from __future__ import annotations

from kernelmodel.boot import vl_start_kernel
from kernelmodel.include.mm_types import MmStruct, VmArea
from kernelmodel.include.page import Page
from kernelmodel.include.swap import KswapdState, LruPvecs, OomState, SwapState
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.swap_state import SwapperSpace
from kernelmodel.mm.vmscan import vl_start_kswapd
from machine.board import Machine, MachineConfig

MiB = 1 << 20


def vl_fill_reclaim_fields(k: Kernel) -> None:
    """Create the reclaim modules' state on ``k`` where kernel.py has not (interpreted only)."""
    fields: dict[str, object] = {
        "swap": SwapState(),
        "swapper_space": SwapperSpace(),
        "lru_pvecs": LruPvecs(),
        "kswapd": KswapdState(),
        "oom": OomState(),
    }
    for name, value in fields.items():
        if not hasattr(k, name):
            setattr(k, name, value)
    if not hasattr(k, "mm_registry"):
        from kernelmodel.include.mm_types import VlMmRegistry

        k.mm_registry = VlMmRegistry()  # type: ignore[attr-defined]
    if not hasattr(k, "bios"):
        k.bios = {}  # type: ignore[attr-defined]
    if not hasattr(k, "wb"):
        from kernelmodel.include.writeback import WritebackState

        k.wb = WritebackState()  # type: ignore[attr-defined]
    if not hasattr(k, "mm_oracle"):
        from kernelmodel.oracle.oracle_mm import VlMmOracle

        k.mm_oracle = VlMmOracle()  # type: ignore[attr-defined]
    if not hasattr(k, "oracle"):
        from kernelmodel.oracle.oracle import Oracle

        k.oracle = Oracle()  # type: ignore[attr-defined]
    if not hasattr(k, "sb"):
        from kernelmodel.fs.fs import SuperBlock

        k.sb = SuperBlock(1024)  # type: ignore[attr-defined]


def make_kernel(
    mem_mb: int = 4,
    disk_mb: int = 64,
    swap_mb: int = 8,
    swappiness: int = 60,
    start: bool = True,
    design: tuple[str, str, str] = ("2.6.7", "tags", "anon_vma"),
    vmscan: str | None = None,
) -> Kernel:
    """Boot a kernel on a small machine with a swap area at the end of the disk; ``design``
    is (release, writeback, rmap); ``vmscan`` the reclaim design (None: the release's)."""
    machine = Machine(MachineConfig(mem_mb * MiB, disk_mb * MiB))
    release, writeback, rmap = design
    cfg = KernelConfig(release=release, writeback=writeback, rmap=rmap, vmscan=vmscan,
                       swap_bytes=swap_mb * MiB, swappiness=swappiness)
    k = vl_start_kernel(machine, cfg)
    vl_fill_reclaim_fields(k)
    if start and k.kswapd.pid < 0:
        vl_start_kswapd(k)
    return k


def alloc_user_page(k: Kernel) -> Page:
    """A fresh page straight from the buddy allocator (count 1), ignoring the watermarks."""
    from kernelmodel.mm.page_alloc import GFP_HIGHUSER, vl_alloc_no_watermarks

    page = vl_alloc_no_watermarks(k.pgdat, GFP_HIGHUSER, 0)
    assert page is not None
    return page


def run_events(k: Kernel, limit: int = 100_000) -> int:
    """Dispatch events until none is pending (or ``limit``); returns how many ran."""
    n = 0
    while n < limit and k.machine.step():
        n += 1
    return n


def make_anon_task(
    k: Kernel, npages: int, start: int = 0x10000000
) -> tuple[Task, MmStruct, VmArea]:
    """A task with an mm holding one private anonymous read/write vma (no user program)."""
    from kernelmodel.include.mm_types import VM_MAYREAD, VM_MAYWRITE, VM_READ, VM_WRITE
    from kernelmodel.mm.pgtable import pgd_alloc, vm_get_page_prot

    reg = k.mm_registry
    mm = MmStruct(reg.next_mm_id, pgd_alloc(k))
    reg.next_mm_id += 1
    reg.mms[mm.mm_id] = mm
    flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE
    vma = VmArea(
        reg.next_vma_id, mm.mm_id, start, start + npages * 4096, flags, vm_get_page_prot(flags),
        start >> 12,
    )
    reg.next_vma_id += 1
    reg.vmas[vma.vma_id] = vma
    mm.mmap.append(vma)
    mm.map_count = 1
    mm.total_vm = npages
    t = Task(k.alloc_pid(), f"anon{mm.mm_id}", None)
    t.mm_id = mm.mm_id
    k.tasks[t.pid] = t
    return t, mm, vma


def touch(k: Kernel, t: Task, mm: MmStruct, vma: VmArea, addr: int, write: int = 1) -> int:
    """A page fault at ``addr`` through handle_mm_fault (returns its VM_FAULT_* code)."""
    from kernelmodel.mm.memory import handle_mm_fault

    return handle_mm_fault(k, t, mm, vma, addr, write)


def page_at(k: Kernel, mm: MmStruct, addr: int) -> Page | None:
    """The page a present pte maps at ``addr``, or None."""
    from kernelmodel.mm.pgtable import pte_present, vl_read_pte

    pte = vl_read_pte(k.machine.mem, mm.pgd, addr)
    if pte < 0 or not pte_present(pte):
        return None
    return k.mem_map.pages[pte >> 12]


def file_page(k: Kernel, mapping: AddressSpace, index: int) -> Page:
    """A clean, uptodate page-cache page on its way to the inactive list (held by the cache)."""
    from kernelmodel.include.page import SetPageUptodate
    from kernelmodel.mm.filemap import add_to_page_cache_lru
    from kernelmodel.mm.pagemap import unlock_page

    page = alloc_user_page(k)
    assert add_to_page_cache_lru(k, page, mapping, index) == 0
    SetPageUptodate(page)
    unlock_page(k, page)
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)
    return page


def finish_io(k: Kernel, limit: int = 100_000) -> None:
    """Dispatch events until every bio has completed."""
    n = 0
    while k.bios and n < limit:
        assert k.machine.step()
        n += 1
    assert not k.bios
