"""Page faults, copy-on-write and unmapping (arch/i386/mm/fault.c, mm/memory.c, 2.6.7; the
2.6.5/2.6.6 profiles run 2.6.6's do_swap_page, ``cfg.swapin``, and their rmap design's calls).

The fault path is the kernel's: ``do_page_fault`` checks the access against the vma,
``handle_mm_fault`` finds or allocates the page table, and ``handle_pte_fault`` dispatches on
the pte: none -> ``do_no_page`` (file pages through the page cache, or ``do_anonymous_page``),
a file pte -> ``do_file_page``, a swap pte -> ``do_swap_page``, a write to a read-only
present pte -> ``do_wp_page`` (copy-on-write, or reuse when the page is ours alone). The
reverse-mapping calls are 2.6.7's (anon_vma_prepare, page_add_anon_rmap, page_add_file_rmap):
the object-based rmap the 2.6.6 cycle produced and 2.6.7 shipped.

Blocking is data: where C sleeps inside the fault (reading a file page or a swap slot,
waiting for memory or for a locked page), the model puts the task to sleep, pushes a
``FaultOp`` on its kernel stack and stops the CPU. When the task runs again the op re-runs
``handle_mm_fault`` for the same address (as C would re-check the pte after sleeping), and
when it completes the CPU retries the access. pgfault is counted once per fault; a fault that
had to read the disk is major.

Every fault that completes leaves a ``fault`` trace record (address, result, and what it was:
``anon``, ``zero``, ``file``, ``file-private``, ``swapin``, ``cow``, ``reuse`` or ``young``;
see docs/trace.md); every pte that ``zap_pte_range`` clears leaves an ``unmap`` record. A
fault that slept writes its record when it completes.

A bad access (no vma, or one that forbids it) is a SIGSEGV: a TR_SEGV trace event,
vmstat.segfaults, and the task exits with 139 (128 + SIGSEGV). A file fault beyond EOF is a
SIGBUS (exit 135). Neither is ever a simulator error.

Model simplifications:
    * page_table_lock and mmap_sem are not taken (one CPU; no step sleeps holding them), so
      the pte_same re-checks after a sleep are the only race handling needed;
    * no stack vmas (VM_GROWSDOWN expansion) and no nonlinear vmas (do_file_page falls back
      to do_no_page, as 2.6.7 does for vmas without ->populate);
    * the mmu_gather is the UP "fast mode" one: pages are freed as their ptes are cleared,
      and the TLB is flushed once at the end (tlb_finish_mmu -> flush_tlb_mm).

Invariants:
    * a present pte maps ZERO_PAGE (read-only, no rss, no rmap) or a page counted in the mm's
      rss, in its ``_mapcount`` and holding one page reference for the pte;
    * every downgrade of a present pte (write-protect, clear, clean) is followed by a TLB
      flush of the mm if it is loaded in CR3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import (
    VM_EXEC,
    VM_MAYWRITE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    MmStruct,
    VmArea,
)
from kernelmodel.include.page import PageAnon, PageReserved, TestSetPageLocked, get_page
from kernelmodel.include.vmstat import TR_COW, TR_FAULT, TR_SEGV, TR_UNMAP
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, TASK_RUNNING, Frame, Task
from kernelmodel.kernel.wait import page_locked_key, sleep_on
from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page, vl_wait_for_memory
from kernelmodel.mm.page_alloc import GFP_HIGHUSER
from kernelmodel.mm.page_writeback import vl_set_page_dirty_from_pte
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import (
    flush_tlb_mm,
    mk_pte,
    pte_alloc_map,
    pte_clear,
    pte_dirty,
    pte_file,
    pte_mkclean,
    pte_mkdirty,
    pte_mkold,
    pte_mkwrite,
    pte_mkyoung,
    pte_offset_map,
    pte_pfn,
    pte_present,
    pte_to_swp_entry,
    pte_write,
    pte_wrprotect,
    pte_young,
    ptep_establish,
    ptep_get_and_clear,
    ptep_set_wrprotect,
    set_pte,
)
from kernelmodel.mm.rmap import (
    anon_vma_prepare,
    page_add_anon_rmap,
    page_add_file_rmap,
    page_dup_rmap,
    page_remove_rmap,
)
from kernelmodel.mm.swap import lru_add_drain, lru_cache_add_active, mark_page_accessed
from kernelmodel.mm.swap_state import (
    SWAPIN_FOUND,
    SWAPIN_NOMEM,
    SWAPIN_STARTED,
    free_page_and_swap_cache,
    lookup_swap_cache,
    swapin_readahead,
    vl_read_swap_cache,
)
from kernelmodel.mm.swapfile import (
    can_share_swap_page,
    free_swap_and_cache,
    remove_exclusive_swap_page,
    swap_duplicate,
    swap_free,
    vm_swap_full,
)
from machine.i386 import FEC_PROT, FEC_WRITE, PAGE_SHIFT, PAGE_SIZE
from machine.interfaces import TRAP_RETRY, TRAP_STOP

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

#: handle_mm_fault results (include/linux/mm.h).
VM_FAULT_OOM: Final = -1
VM_FAULT_SIGBUS: Final = 0
VM_FAULT_MINOR: Final = 1
VM_FAULT_MAJOR: Final = 2
#: Model only: the task went to sleep inside the fault; retry when it runs again.
VL_FAULT_BLOCKED: Final = 3

#: Exit codes of a task killed by a signal (128 + signal number).
EXIT_SIGSEGV: Final = 139
EXIT_SIGBUS: Final = 135

_PAGE_MASK: Final = 0xFFFFF000


# ---- the fault entry and its resumable op -------------------------------------------------------


@final
class FaultOp(Frame):
    """The frame of a page fault that slept (do_page_fault, arch/i386/mm/fault.c, 2.6.6).

    When the task runs again it restarts the fault from the top, as the kernel does after
    sleeping: find_vma, then handle_mm_fault for the same address, which finds the pte as
    it is now. Its locals: the faulting address and access, and the task's maj_flt when the
    fault began (a fault that read the disk has counted itself major by the time it ends).
    """

    KIND = "do_page_fault"
    FIELDS = (("address", "int"), ("write", "int"), ("maj_flt_at_start", "int"))

    def __init__(self, address: int = 0, write: int = 0, maj_flt_at_start: int = 0) -> None:
        super().__init__("page fault")
        self.address = address
        self.write = write
        self.maj_flt_at_start = maj_flt_at_start
        self.is_fault = True

    def step(self, k: Kernel, task: Task) -> int:
        mm = k.mm_registry.mms.get(task.mm_id)
        vma = find_vma(mm, self.address) if mm is not None else None
        if mm is None or vma is None or vma.vm_start > self.address:
            # the mapping went away while the task slept: the retried access decides
            return KOP_DONE
        r = handle_mm_fault(k, task, mm, vma, self.address, self.write)
        if r == VL_FAULT_BLOCKED:
            return KOP_BLOCKED
        _fault_done(k, task, r, self.maj_flt_at_start, self.address)
        if task.state != TASK_RUNNING:
            return KOP_BLOCKED
        return KOP_DONE if task.mm_id >= 0 else KOP_CONTINUE  # killed: do_exit's op runs

    def describe(self) -> str:
        kind = "write" if self.write else "read"
        return f"page fault ({kind} {self.address:#010x})"


def find_vma(mm: MmStruct, addr: int) -> VmArea | None:
    """find_vma(): the first vma with ``addr < vm_end`` (mmap_cache first), or None."""
    vma = mm.mmap_cache
    if vma is not None and vma.vm_start <= addr < vma.vm_end:
        return vma
    vmas = mm.mmap
    lo = 0
    hi = len(vmas)
    while lo < hi:
        mid = (lo + hi) >> 1
        if vmas[mid].vm_end > addr:
            hi = mid
        else:
            lo = mid + 1
    if lo == len(vmas):
        return None
    vma = vmas[lo]
    mm.mmap_cache = vma
    return vma


def do_page_fault(k: Kernel, task: Task, address: int, error_code: int) -> int:
    """do_page_fault() (arch/i386/mm/fault.c): a user fault at ``address`` (CR2).

    Returns:
        TRAP_RETRY when the pte is fixed; TRAP_STOP when the task slept (a FaultOp is on its
        kernel stack) or was killed.

    Caller: the kernel's trap handler, for the current task, inside Cpu.run.
    """
    mm = k.mm_registry.mms.get(task.mm_id)
    bug_on(mm is None, "do_page_fault: user fault in a task without an mm")
    assert mm is not None
    vma = find_vma(mm, address)
    if vma is None or vma.vm_start > address:
        return bad_area(k, task, address, error_code, "no vma")
    write = 0
    access = error_code & (FEC_PROT | FEC_WRITE)
    if access & FEC_WRITE:
        if (vma.vm_flags & VM_WRITE) == 0:
            return bad_area(k, task, address, error_code, "write to a read-only vma")
        write = 1
    elif access == FEC_PROT:
        return bad_area(k, task, address, error_code, "read protection fault")
    elif (vma.vm_flags & (VM_READ | VM_EXEC)) == 0:
        return bad_area(k, task, address, error_code, "read of a PROT_NONE vma")
    k.vmstat.pgfault += 1
    start_maj = task.maj_flt
    r = handle_mm_fault(k, task, mm, vma, address, write)
    if r == VL_FAULT_BLOCKED:
        task.kstack.append(FaultOp(address, write, start_maj))
        return TRAP_STOP
    _fault_done(k, task, r, start_maj, address)
    if task.state != TASK_RUNNING or task.mm_id < 0:
        return TRAP_STOP  # killed (SIGBUS): an ExitOp may still have files to close
    return TRAP_RETRY


def _fault_done(k: Kernel, task: Task, r: int, start_maj: int, address: int) -> None:
    """The end of do_page_fault: count the fault, or deliver SIGBUS; its ``fault`` record."""
    major = r == VM_FAULT_MAJOR or task.maj_flt != start_maj
    result = "sigbus" if r == VM_FAULT_SIGBUS else ("major" if major else "minor")
    kind = k.vl_fault_kind if k.vl_fault_kind else "none"
    k.trace.emit(k.now(), TR_FAULT, task.pid, address, VM_FAULT_MAJOR if major else r,
                 f"{kind} {result}")
    k.vl_fault_kind = ""
    if r == VM_FAULT_SIGBUS:
        _kill(k, task, address, EXIT_SIGBUS, "SIGBUS: file page beyond EOF")
        return
    if r == VM_FAULT_MAJOR:
        if task.maj_flt == start_maj:
            task.maj_flt += 1
    elif task.maj_flt == start_maj:
        task.min_flt += 1


def bad_area(k: Kernel, task: Task, address: int, error_code: int, why: str) -> int:
    """bad_area / force_sig(SIGSEGV): kill the task; the machine carries on.

    Returns:
        TRAP_STOP.
    """
    k.vmstat.segfaults += 1
    _kill(k, task, address, EXIT_SIGSEGV, f"SIGSEGV: {why} (error code {error_code})")
    return TRAP_STOP


def _kill(k: Kernel, task: Task, address: int, code: int, text: str) -> None:
    """Deliver a fatal signal: a TR_SEGV trace event, then do_exit(code) (kernel/exit.c,
    reached through ``k`` as C reaches it through its declaration in include/linux/kernel.h)."""
    k.trace.emit(k.now(), TR_SEGV, task.pid, address, code, f"{text} at {address:#010x}")
    k.do_exit(task, code)


def handle_mm_fault(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int
) -> int:
    """handle_mm_fault(): find (or allocate) the page table and handle the pte.

    Returns:
        VM_FAULT_MINOR / MAJOR / SIGBUS, or VL_FAULT_BLOCKED when the task slept.
    """
    k.vl_fault_kind = ""
    ptep = pte_alloc_map(k, mm, address)
    if ptep < 0:
        vl_wait_for_memory(k, task)
        return VL_FAULT_BLOCKED
    r = handle_pte_fault(k, task, mm, vma, address & _PAGE_MASK, write, ptep)
    if r == VL_FAULT_BLOCKED:
        k.vl_fault_kind = ""  # found again when the fault is retried
    return r


def handle_pte_fault(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int
) -> int:
    """handle_pte_fault(): dispatch on the pte; a present pte just gets young (and dirty)."""
    mem = k.machine.mem
    entry = mem.read_u32(ptep)
    if not pte_present(entry):
        if entry == 0:
            return do_no_page(k, task, mm, vma, address, write, ptep)
        if pte_file(entry):
            return do_file_page(k, task, mm, vma, address, write, ptep)
        return do_swap_page(k, task, mm, vma, address, write, ptep, entry)
    if write:
        if not pte_write(entry):
            return do_wp_page(k, task, mm, vma, address, ptep, entry)
        entry = pte_mkdirty(entry)
    k.vl_fault_kind = "young"
    ptep_establish(k, mm.mm_id, address, ptep, pte_mkyoung(entry))
    return VM_FAULT_MINOR


def maybe_mkwrite(pte: int, vma: VmArea) -> int:
    """maybe_mkwrite(): make the pte writable only if the vma allows writing."""
    if vma.vm_flags & VM_WRITE:
        return pte_mkwrite(pte)
    return pte


# ---- not-present ptes ---------------------------------------------------------------------------


def do_anonymous_page(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int
) -> int:
    """do_anonymous_page(): a read maps ZERO_PAGE read-only; a write gets a new zeroed page.

    The new page is dirty and writable (if the vma is), young, on the active list, and in
    the vma's anon_vma (2.6.7: anon_vma_prepare + page_add_anon_rmap).
    """
    mem = k.machine.mem
    k.vl_fault_kind = "anon" if write else "zero"
    if not write:
        set_pte(mem, ptep, pte_wrprotect(mk_pte(k.zero_page.pfn, vma.vm_page_prot)))
        k.vmstat.zero_page_maps += 1
        return VM_FAULT_MINOR
    anon_vma_prepare(k, vma)
    page = vl_alloc_page(k, GFP_HIGHUSER)
    if page is None:
        vl_wait_for_memory(k, task)
        return VL_FAULT_BLOCKED
    mem.zero_frame(page.pfn)
    mm.rss += 1
    entry = maybe_mkwrite(pte_mkdirty(mk_pte(page.pfn, vma.vm_page_prot)), vma)
    lru_cache_add_active(k, page)
    mark_page_accessed(k, page)
    set_pte(mem, ptep, entry)
    page_add_anon_rmap(k, page, vma, address, ptep)
    return VM_FAULT_MINOR


def do_no_page(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int
) -> int:
    """do_no_page(): map the file page (filemap_nopage); a private write copies it at once.

    Anonymous vmas (no ->nopage) go to do_anonymous_page. A page beyond EOF is SIGBUS.
    """
    if vma.vm_file < 0:
        return do_anonymous_page(k, task, mm, vma, address, write, ptep)
    from kernelmodel.fs.fs import vl_inode
    from kernelmodel.mm.filemap import vl_filemap_nopage

    k.vl_fault_kind = "file-private" if write and (vma.vm_flags & VM_SHARED) == 0 else "file"
    inode = vl_inode(k, vma.vm_file)
    bug_on(inode is None, "do_no_page: vma maps a dead inode")
    assert inode is not None
    pgoff = ((address - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff
    if pgoff >= (inode.i_size + PAGE_SIZE - 1) >> PAGE_SHIFT:
        return VM_FAULT_SIGBUS
    page = vl_filemap_nopage(k, task, inode.i_mapping, pgoff)
    if page is None:
        return VL_FAULT_BLOCKED
    anon = False
    if write and (vma.vm_flags & VM_SHARED) == 0:
        anon_vma_prepare(k, vma)
        copy = vl_alloc_page(k, GFP_HIGHUSER)
        if copy is None:
            page_cache_release(k, page)
            vl_wait_for_memory(k, task)
            return VL_FAULT_BLOCKED
        k.machine.mem.copy_frame(copy.pfn, page.pfn)
        page_cache_release(k, page)
        lru_cache_add_active(k, copy)
        page = copy
        anon = True
    _install_new_page(k, mm, vma, address, write, ptep, page, anon)
    return VM_FAULT_MINOR


def _install_new_page(
    k: Kernel, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int, page: Page,
    anon: bool,
) -> None:
    """do_no_page's tail: set the pte (writable and dirty on a write) and add the rmap.

    The page reference the caller holds becomes the pte's.
    """
    if not PageReserved(page):
        mm.rss += 1
    entry = mk_pte(page.pfn, vma.vm_page_prot)
    if write:
        entry = maybe_mkwrite(pte_mkdirty(entry), vma)
    set_pte(k.machine.mem, ptep, entry)
    if anon:
        page_add_anon_rmap(k, page, vma, address, ptep)
    else:
        page_add_file_rmap(k, page, ptep)


def do_file_page(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int
) -> int:
    """do_file_page(): a nonlinear file pte. Without ->populate (the model's files have
    none) 2.6.7 clears the pte and falls back to do_no_page."""
    pte_clear(k.machine.mem, ptep)
    return do_no_page(k, task, mm, vma, address, write, ptep)


def do_swap_page(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int,
    orig_pte: int,
) -> int:
    """do_swap_page(): bring a swapped-out anonymous page back (2.6.5, 2.6.6 and 2.6.7).

    A swap-cache hit is a minor fault; otherwise swapin_readahead and a read of the slot make
    it major (pgmajfault). The pte is writable and dirty only for a write when the page can
    be shared (can_share_swap_page). A write that cannot share: with ``cfg.swapin`` "2.6.7"
    it copies at once (do_wp_page inside this fault, rmap 11); with "2.6.6" (2.6.5 and
    2.6.6) the page is mapped read-only and the retried write takes a second fault, a
    protection fault that do_wp_page handles.
    """
    k.vl_fault_kind = "swapin"
    entry = pte_to_swp_entry(orig_pte)
    page = lookup_swap_cache(k, entry)
    if page is None:
        swapin_readahead(k, entry)
        page = _swapin_read(k, task, entry)
        if page is None:
            if task.state != TASK_RUNNING:
                return VL_FAULT_BLOCKED
            return VM_FAULT_MINOR  # the slot was freed meanwhile: the pte changed
    mark_page_accessed(k, page)
    if TestSetPageLocked(page):
        _sleep_on_page_lock(k, task, page)
        return VL_FAULT_BLOCKED
    if k.machine.mem.read_u32(ptep) != orig_pte:
        _unlock_release(k, page)
        return VM_FAULT_MINOR
    return _swapin_map(k, task, mm, vma, address, write, ptep, page, entry)


def _swapin_read(k: Kernel, task: Task, entry: int) -> Page | None:
    """read_swap_cache_async() for do_swap_page, with its major-fault accounting.

    The caller's lookup_swap_cache missed, so a page found or read here makes the fault major
    (pgmajfault), as in the kernel, even when swapin_readahead already started its read.

    Returns:
        The page (in the swap cache after all, possibly still locked by its read), or None
        when the task sleeps (a read was started; or memory is short) or the slot was freed
        meanwhile (the task still runs).
    """
    status, page = vl_read_swap_cache(k, entry)
    if status in (SWAPIN_FOUND, SWAPIN_STARTED):
        # "Had to read the page from swap area: Major fault" (readahead may have started it)
        k.vmstat.pgmajfault += 1
        task.maj_flt += 1
    if status == SWAPIN_FOUND:
        return page
    if status == SWAPIN_STARTED and page is not None:
        sleep_on(k, task, page_locked_key(page.pfn))
        page_cache_release(k, page)
    elif status == SWAPIN_NOMEM:
        vl_wait_for_memory(k, task)
    return None


def _sleep_on_page_lock(k: Kernel, task: Task, page: Page) -> None:
    """lock_page() would sleep: drop our reference and sleep until the page is unlocked."""
    page_cache_release(k, page)
    sleep_on(k, task, page_locked_key(page.pfn))


def _unlock_release(k: Kernel, page: Page) -> None:
    """unlock_page + page_cache_release."""

    unlock_page(k, page)
    page_cache_release(k, page)


def _swapin_map(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, write: int, ptep: int,
    page: Page, entry: int,
) -> int:
    """do_swap_page with the page locked and the pte unchanged: map it.

    Caller: holds the page lock and a reference (the reference becomes the pte's).
    """
    swap_free(k, entry)
    if vm_swap_full(k):
        remove_exclusive_swap_page(k, page)
    mm.rss += 1
    pte = mk_pte(page.pfn, vma.vm_page_prot)
    if write and can_share_swap_page(k, page):
        pte = maybe_mkwrite(pte_mkdirty(pte), vma)
        write = 0
    unlock_page(k, page)
    set_pte(k.machine.mem, ptep, pte)
    page_add_anon_rmap(k, page, vma, address, ptep)
    if write and k.cfg.swapin == "2.6.7":
        return do_wp_page(k, task, mm, vma, address, ptep, pte)
    return VM_FAULT_MINOR


# ---- copy-on-write ------------------------------------------------------------------------------


def do_wp_page(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, ptep: int, pte: int
) -> int:
    """do_wp_page(): a write to a present read-only pte.

    If the page can be locked at once and is ours alone (can_share_swap_page: count 1, or an
    exclusive swap-cache page), the pte is made young, dirty and writable in place (reuse).
    Otherwise the page (or ZERO_PAGE) is copied into a new anonymous page, the old page's
    rmap and reference are dropped, and the new pte is installed with a TLB flush (break_cow).
    """

    old = k.mem_map.pages[pte_pfn(pte)]
    if not k.vl_fault_kind:  # a swap-in that copies at once stays a swap-in fault
        k.vl_fault_kind = "cow"
    if not TestSetPageLocked(old):
        reuse = can_share_swap_page(k, old)
        unlock_page(k, old)
        if reuse:
            if k.vl_fault_kind == "cow":
                k.vl_fault_kind = "reuse"
            entry = maybe_mkwrite(pte_mkyoung(pte_mkdirty(pte)), vma)
            ptep_establish(k, mm.mm_id, address, ptep, entry)
            return VM_FAULT_MINOR
    return _cow_copy(k, task, mm, vma, address, ptep, pte, old)


def _cow_copy(
    k: Kernel, task: Task, mm: MmStruct, vma: VmArea, address: int, ptep: int, pte: int,
    old: Page,
) -> int:
    """do_wp_page's copy half: take a reference on the old page, allocate (which may reclaim,
    even unmapping the old page), copy_cow_page, then re-check the pte: if it changed, back
    out (the retried access faults again); else break_cow and release the old page."""
    reserved = PageReserved(old)
    if not reserved:
        get_page(old)
    anon_vma_prepare(k, vma)
    new = vl_alloc_page(k, GFP_HIGHUSER)
    if new is None:
        if not reserved:
            page_cache_release(k, old)
        vl_wait_for_memory(k, task)
        return VL_FAULT_BLOCKED
    mem = k.machine.mem
    if reserved:
        mem.zero_frame(new.pfn)  # copy_cow_page from ZERO_PAGE is a clear
    else:
        mem.copy_frame(new.pfn, old.pfn)
    if mem.read_u32(ptep) != pte:
        page_cache_release(k, new)
        if not reserved:
            page_cache_release(k, old)
        return VM_FAULT_MINOR
    if reserved:
        mm.rss += 1
    else:
        page_remove_rmap(k, old, ptep)
    entry = maybe_mkwrite(pte_mkdirty(mk_pte(new.pfn, vma.vm_page_prot)), vma)
    ptep_establish(k, mm.mm_id, address, ptep, entry)
    lru_cache_add_active(k, new)
    page_add_anon_rmap(k, new, vma, address, ptep)
    if not reserved:
        page_cache_release(k, old)  # the pte's reference
        page_cache_release(k, old)  # ours
    k.vmstat.cow_faults += 1
    k.trace.emit(k.now(), TR_COW, task.pid, address, new.pfn, "cow copy")
    return VM_FAULT_MINOR


# ---- unmapping ----------------------------------------------------------------------------------


def zap_pte_range(k: Kernel, mm: MmStruct, start: int, end: int) -> int:
    """zap_pte_range() over [start, end) of one mm (all page tables it crosses).

    Present ptes: cleared; a dirty pte dirties its page, a young pte of a file page marks it
    accessed; the rmap and the pte's page reference are dropped (free_page_and_swap_cache).
    ZERO_PAGE is skipped. Swap ptes release their slot (free_swap_and_cache); file ptes are
    just cleared.

    Returns:
        The number of pages unmapped (tlb->freed: the caller takes it from rss).

    Caller: flushes the TLB afterwards (tlb_finish_mmu).
    """
    mem = k.machine.mem
    freed = 0
    addr = start
    while addr < end:
        ptep = pte_offset_map(mem, mm.pgd, addr)
        if ptep < 0:
            addr = ((addr >> 22) + 1) << 22
            continue
        pte = mem.read_u32(ptep)
        if pte != 0:
            freed += _zap_one(k, ptep, pte)
            _trace_zap(k, mm, addr, pte)
        addr += PAGE_SIZE
    return freed


def _trace_zap(k: Kernel, mm: MmStruct, addr: int, pte: int) -> None:
    """The ``unmap`` record of one cleared pte: b is the frame, or -1 for a swap or file pte."""
    if pte_present(pte):
        pfn = pte_pfn(pte)
        what = "zero" if pfn == k.zero_page.pfn else "page"
    else:
        pfn = -1
        what = "file" if pte_file(pte) else "swap"
    k.trace.emit(k.now(), TR_UNMAP, k.current, addr, pfn, f"zap {what} mm {mm.mm_id}")


def _zap_one(k: Kernel, ptep: int, pte: int) -> int:
    """Clear one non-none pte; returns 1 if it mapped a (non-reserved) page."""
    mem = k.machine.mem
    if not pte_present(pte):
        if not pte_file(pte):
            free_swap_and_cache(k, pte_to_swp_entry(pte))
        pte_clear(mem, ptep)
        return 0
    pte = ptep_get_and_clear(mem, ptep)
    page = k.mem_map.pages[pte_pfn(pte)]
    if PageReserved(page):
        return 0
    if pte_dirty(pte):
        vl_set_page_dirty_from_pte(k, page)
    if pte_young(pte) and page.mapping is not None and not PageAnon(page):
        mark_page_accessed(k, page)
    page_remove_rmap(k, page, ptep)
    free_page_and_swap_cache(k, page)
    return 1


def unmap_vmas(k: Kernel, mm: MmStruct, vmas: list[VmArea], start: int, end: int) -> int:
    """unmap_vmas(): zap the part of each vma inside [start, end).

    Returns:
        Pages unmapped. Caller: flushes the TLB and adjusts rss (tlb_finish_mmu).
    """
    freed = 0
    for vma in vmas:
        s = vma.vm_start if vma.vm_start > start else start
        e = vma.vm_end if vma.vm_end < end else end
        if s < e:
            freed += zap_pte_range(k, mm, s, e)
    return freed


def zap_page_range(k: Kernel, mm: MmStruct, vma: VmArea, address: int, size: int) -> None:
    """zap_page_range(): unmap [address, address + size) of one vma (lru_add_drain,
    unmap_vmas, tlb_finish_mmu)."""
    lru_add_drain(k)
    freed = unmap_vmas(k, mm, [vma], address, address + size)
    mm.rss -= freed
    flush_tlb_mm(k, mm.mm_id)


# ---- fork: copy_page_range ----------------------------------------------------------------------


def copy_page_range(k: Kernel, dst: MmStruct, src: MmStruct, vma: VmArea, dst_vma: VmArea) -> int:
    """copy_page_range(): copy the ptes of ``vma`` (in ``src``) to ``dst`` for fork.

    Swap ptes take a slot reference (swap_duplicate); ZERO_PAGE ptes are copied as they are;
    other present ptes get a page reference and page_dup_rmap, are write-protected in both
    mms for a COW mapping, made clean in the child for a shared one, and old in the child.
    The parent's TLB is flushed by the caller (dup_mmap's flush_tlb_mm).

    Returns:
        0, or -1 when a page table could not be allocated for the child (the caller tears the
        child down, waits for memory and retries the fork).
    """
    mem = k.machine.mem
    cow = (vma.vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE
    shared = (vma.vm_flags & VM_SHARED) != 0
    addr = vma.vm_start
    while addr < vma.vm_end:
        src_ptep = pte_offset_map(mem, src.pgd, addr)
        if src_ptep < 0:
            addr = ((addr >> 22) + 1) << 22
            continue
        if mem.read_u32(src_ptep) != 0:
            dst_ptep = pte_alloc_map(k, dst, addr)
            if dst_ptep < 0:
                return -1
            # re-read: the allocation may have reclaimed (unmapped) the source page
            pte = mem.read_u32(src_ptep)
            if pte != 0:
                _copy_one_pte(k, dst, src_ptep, dst_ptep, pte, cow, shared)
        addr += PAGE_SIZE
    return 0


def _copy_one_pte(
    k: Kernel, dst: MmStruct, src_ptep: int, dst_ptep: int, pte: int, cow: bool, shared: bool
) -> None:
    """copy_page_range's per-pte body."""
    mem = k.machine.mem
    if not pte_present(pte):
        if not pte_file(pte):
            swap_duplicate(k, pte_to_swp_entry(pte))
        set_pte(mem, dst_ptep, pte)
        return
    page = k.mem_map.pages[pte_pfn(pte)]
    if PageReserved(page):
        set_pte(mem, dst_ptep, pte)
        return
    if cow:
        ptep_set_wrprotect(mem, src_ptep)
        pte = mem.read_u32(src_ptep)
    if shared:
        pte = pte_mkclean(pte)
    get_page(page)
    dst.rss += 1
    set_pte(mem, dst_ptep, pte_mkold(pte))
    page_dup_rmap(k, page, dst_ptep)

