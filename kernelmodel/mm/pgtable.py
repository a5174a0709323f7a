"""i386 page tables in machine memory (include/asm-i386/pgtable.h, pgtable-2level.h,
pgalloc.h, tlbflush.h, mmu_context.h; include/linux/swapops.h; 2.6.6/2.6.7).

Page directories and page tables are real 4 KiB frames of the emulated RAM, and every PTE is
a little-endian u32 word the MMU walks. A ``ptep`` (pointer to a pte) is the physical byte
address of the word. The pmd level is folded (PTRS_PER_PMD = 1), so a "pmd" is the PDE.

PTE encodings (non-PAE)::

    present     frame << 12 | G D A PCD PWT US RW P      (P = 1)
    swap        offset << 8 | type << 1                   (P = 0, _PAGE_FILE = 0, PROTNONE = 0)
    file        pgoff[28:5] << 8 | _PAGE_FILE | pgoff[4:0] << 1   (nonlinear vmas)
    none        0

The arch-independent ``swp_entry_t`` (include/linux/swapops.h), which the swap cache keys on and
``page->private`` holds, puts the type in the top 5 bits: ``type << 27 | offset``.
``swp_entry_to_pte`` / ``pte_to_swp_entry`` convert between the two.

TLB rule (UP i386): the hardware does not snoop pte writes, so a change that removes or
reduces a translation must be followed by ``flush_tlb_page`` (invlpg) or ``flush_tlb_mm`` /
``flush_tlb_range`` (a CR3 reload), and only when the mm is the one loaded in CR3. Installing a
translation where the pte was not present needs no flush (the MMU caches no not-present
entries and drops the entry of a faulting address), and ``ptep_test_and_clear_young`` does not
flush at all, as in the kernel: a stale TLB entry keeps hiding accesses until it is evicted.

Invariants:
    * the PDE of a user address is 0 or ``pt_pfn << 12 | _PAGE_TABLE``, and the registry's
      ``pt_owner[pt_pfn]`` is the mm whose directory holds it;
    * ``registry.active_mm`` names the mm whose pgd frame is in CR3 (-1: swapper_pg_dir).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import VM_EXEC, VM_READ, VM_SHARED, VM_WRITE
from machine.i386 import (
    PAGE_SHIFT,
    PAGE_TABLE,
    PGDIR_SHIFT,
    PTE_A,
    PTE_D,
    PTE_FILE,
    PTE_P,
    PTE_PROTNONE,
    PTE_RW,
    PTE_US,
    USER_PTRS_PER_PGD,
)
from machine.physmem import PhysicalMemory

if TYPE_CHECKING:
    from kernelmodel.include.mm_types import MmStruct
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

# ---- bits under their kernel names --------------------------------------------------------------

_PAGE_PRESENT: Final = PTE_P
_PAGE_RW: Final = PTE_RW
_PAGE_USER: Final = PTE_US
_PAGE_ACCESSED: Final = PTE_A
_PAGE_DIRTY: Final = PTE_D
_PAGE_FILE: Final = PTE_FILE
_PAGE_PROTNONE: Final = PTE_PROTNONE
_PAGE_TABLE: Final = PAGE_TABLE
_PAGE_CHG_MASK: Final = 0xFFFFF000 | PTE_A | PTE_D

#: User protections (pgtable.h).
PAGE_NONE: Final = _PAGE_PROTNONE | _PAGE_ACCESSED
PAGE_SHARED: Final = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
PAGE_COPY: Final = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED
PAGE_READONLY: Final = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED

#: protection_map[vm_flags & (VM_READ|VM_WRITE|VM_EXEC|VM_SHARED)] (mm/mmap.c, __P000..__S111):
#: a private writable mapping starts read-only (PAGE_COPY) and relies on copy-on-write.
protection_map: Final = (
    PAGE_NONE, PAGE_READONLY, PAGE_COPY, PAGE_COPY,
    PAGE_READONLY, PAGE_READONLY, PAGE_COPY, PAGE_COPY,
    PAGE_NONE, PAGE_READONLY, PAGE_SHARED, PAGE_SHARED,
    PAGE_READONLY, PAGE_READONLY, PAGE_SHARED, PAGE_SHARED,
)  # fmt: skip

_PROT_MASK: Final = VM_READ | VM_WRITE | VM_EXEC | VM_SHARED
_WORD: Final = 0xFFFFFFFF
_FRAME: Final = 0xFFFFF000
_TABLE_MASK: Final = 0x3FF

# ---- swap and file pte encodings ----------------------------------------------------------------

#: include/linux/swapops.h: BITS_PER_LONG - MAX_SWAPFILES_SHIFT (5).
SWP_TYPE_SHIFT: Final = 27
SWP_OFFSET_MASK: Final = 0x07FFFFFF
MAX_SWAPFILES: Final = 32
#: Bits of file offset a nonlinear file pte can hold (pgtable-2level.h).
PTE_FILE_MAX_BITS: Final = 29


def vm_get_page_prot(vm_flags: int) -> int:
    """``protection_map[vm_flags & 0xf]``: the vma's pte protection (do_mmap_pgoff)."""
    return protection_map[vm_flags & _PROT_MASK]


def pte_none(pte: int) -> bool:
    """pte_none(): the pte is empty."""
    return pte == 0


def pte_present(pte: int) -> bool:
    """pte_present(): P or PROTNONE (PROT_NONE pages are present to Linux, not to the MMU)."""
    return (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) != 0


def pte_file(pte: int) -> bool:
    """pte_file(): a nonlinear file pte (only meaningful when not present)."""
    return (pte & _PAGE_FILE) != 0


def pte_write(pte: int) -> bool:
    return (pte & _PAGE_RW) != 0


def pte_dirty(pte: int) -> bool:
    return (pte & _PAGE_DIRTY) != 0


def pte_young(pte: int) -> bool:
    return (pte & _PAGE_ACCESSED) != 0


def pte_pfn(pte: int) -> int:
    """pte_pfn(): the frame number of a present pte."""
    return (pte & _WORD) >> PAGE_SHIFT


def pte_mkwrite(pte: int) -> int:
    return pte | _PAGE_RW


def pte_wrprotect(pte: int) -> int:
    return pte & ~_PAGE_RW


def pte_mkdirty(pte: int) -> int:
    return pte | _PAGE_DIRTY


def pte_mkclean(pte: int) -> int:
    return pte & ~_PAGE_DIRTY


def pte_mkyoung(pte: int) -> int:
    return pte | _PAGE_ACCESSED


def pte_mkold(pte: int) -> int:
    return pte & ~_PAGE_ACCESSED


def pte_same(a: int, b: int) -> bool:
    return a == b


def mk_pte(pfn: int, prot: int) -> int:
    """mk_pte() / pfn_pte(): a pte mapping frame ``pfn`` with protection ``prot``."""
    return ((pfn << PAGE_SHIFT) | prot) & _WORD


def pte_modify(pte: int, prot: int) -> int:
    """pte_modify(): keep frame, A and D; take the protection bits from ``prot``."""
    return (pte & _PAGE_CHG_MASK) | prot


def swp_entry(type_: int, offset: int) -> int:
    """swp_entry(): the arch-independent swp_entry_t value for (type, offset)."""
    bug_on(type_ < 0 or type_ >= MAX_SWAPFILES, "swp_entry: bad swap type")
    bug_on(offset < 0 or offset > SWP_OFFSET_MASK, "swp_entry: offset too large")
    return (type_ << SWP_TYPE_SHIFT) | offset


def swp_type(entry: int) -> int:
    """swp_type(): the swap area index of an entry."""
    return entry >> SWP_TYPE_SHIFT


def swp_offset(entry: int) -> int:
    """swp_offset(): the slot number of an entry."""
    return entry & SWP_OFFSET_MASK


def swp_entry_to_pte(entry: int) -> int:
    """swp_entry_to_pte(): i386 encoding, type in pte bits 1-5 and offset in bits 8-31."""
    return (((entry >> SWP_TYPE_SHIFT) << 1) | ((entry & SWP_OFFSET_MASK) << 8)) & _WORD


def pte_to_swp_entry(pte: int) -> int:
    """pte_to_swp_entry(): the swp_entry_t of a swap pte (__swp_type / __swp_offset)."""
    return (((pte >> 1) & 0x1F) << SWP_TYPE_SHIFT) | ((pte & _WORD) >> 8)


def pgoff_to_pte(off: int) -> int:
    """pgoff_to_pte(): a nonlinear file pte for file page ``off`` (< 2**29)."""
    bug_on(off < 0 or off >= (1 << PTE_FILE_MAX_BITS), "pgoff_to_pte: offset too large")
    return (((off & 0x1F) << 1) | ((off >> 5) << 8) | _PAGE_FILE) & _WORD


def pte_to_pgoff(pte: int) -> int:
    """pte_to_pgoff(): the file page of a nonlinear file pte."""
    return ((pte >> 1) & 0x1F) | (((pte & _WORD) >> 8) << 5)


# ---- walking ------------------------------------------------------------------------------------


def pgd_index(addr: int) -> int:
    return (addr >> PGDIR_SHIFT) & 0x3FF


def pte_index(addr: int) -> int:
    return (addr >> PAGE_SHIFT) & _TABLE_MASK


def pgd_offset(pgd_pfn: int, addr: int) -> int:
    """pgd_offset(): physical address of the PDE for ``addr`` in directory ``pgd_pfn``."""
    return (pgd_pfn << PAGE_SHIFT) + (pgd_index(addr) << 2)


def pmd_present(pde: int) -> bool:
    return (pde & _PAGE_PRESENT) != 0


def pte_offset_map(mem: PhysicalMemory, pgd_pfn: int, addr: int) -> int:
    """pte_offset_map() after pmd_none(): the ptep for ``addr``, or -1 without a page table."""
    pde = mem.read_u32((pgd_pfn << PAGE_SHIFT) + (((addr >> PGDIR_SHIFT) & 0x3FF) << 2))
    if (pde & _PAGE_PRESENT) == 0:
        return -1
    return (pde & _FRAME) + (((addr >> PAGE_SHIFT) & _TABLE_MASK) << 2)


def vl_read_pte(mem: PhysicalMemory, pgd_pfn: int, addr: int) -> int:
    """The pte word for ``addr`` without setting A/D (0 when there is no page table)."""
    ptep = pte_offset_map(mem, pgd_pfn, addr)
    if ptep < 0:
        return 0
    return mem.read_u32(ptep)


def pmd_populate(mem: PhysicalMemory, pgd_pfn: int, addr: int, pt_pfn: int) -> None:
    """pmd_populate(): point the PDE for ``addr`` at page table ``pt_pfn`` (_PAGE_TABLE).

    Caller: the PDE is empty and ``pt_pfn`` is a zeroed frame.
    """
    pdep = pgd_offset(pgd_pfn, addr)
    bug_on(mem.read_u32(pdep) != 0, "pmd_populate: pmd not none")
    mem.write_u32(pdep, (pt_pfn << PAGE_SHIFT) | _PAGE_TABLE)


def pmd_clear(mem: PhysicalMemory, pgd_pfn: int, addr: int) -> int:
    """pmd_clear(): empty the PDE for ``addr``; returns the page table's pfn (or -1)."""
    pdep = pgd_offset(pgd_pfn, addr)
    pde = mem.read_u32(pdep)
    mem.write_u32(pdep, 0)
    if (pde & _PAGE_PRESENT) == 0:
        return -1
    return pde >> PAGE_SHIFT


# ---- pte stores ---------------------------------------------------------------------------------


def set_pte(mem: PhysicalMemory, ptep: int, pte: int) -> None:
    """set_pte(): store a pte word (no TLB flush)."""
    mem.write_u32(ptep, pte)


def pte_clear(mem: PhysicalMemory, ptep: int) -> None:
    """pte_clear(): store 0 (no TLB flush)."""
    mem.write_u32(ptep, 0)


def ptep_get_and_clear(mem: PhysicalMemory, ptep: int) -> int:
    """ptep_get_and_clear(): atomically read and clear a pte (no TLB flush)."""
    old = mem.read_u32(ptep)
    mem.write_u32(ptep, 0)
    return old


def ptep_test_and_clear_young(mem: PhysicalMemory, ptep: int) -> bool:
    """ptep_test_and_clear_young(): clear A and say whether it was set. Does NOT flush."""
    pte = mem.read_u32(ptep)
    if (pte & _PAGE_ACCESSED) == 0:
        return False
    mem.write_u32(ptep, pte & ~_PAGE_ACCESSED)
    return True


def ptep_test_and_clear_dirty(mem: PhysicalMemory, ptep: int) -> bool:
    """ptep_test_and_clear_dirty(): clear D and say whether it was set. Does not flush."""
    pte = mem.read_u32(ptep)
    if (pte & _PAGE_DIRTY) == 0:
        return False
    mem.write_u32(ptep, pte & ~_PAGE_DIRTY)
    return True


def ptep_set_wrprotect(mem: PhysicalMemory, ptep: int) -> None:
    """ptep_set_wrprotect(): clear RW (the caller flushes, as copy_page_range's caller does)."""
    mem.write_u32(ptep, mem.read_u32(ptep) & ~_PAGE_RW)


def ptep_mkdirty(mem: PhysicalMemory, ptep: int) -> None:
    """ptep_mkdirty(): set D."""
    mem.write_u32(ptep, mem.read_u32(ptep) | _PAGE_DIRTY)


# ---- TLB flushing (tlbflush.h, uniprocessor) ---------------------------------------------------


def flush_tlb_page(k: Kernel, mm_id: int, addr: int) -> None:
    """flush_tlb_page(vma, addr): invlpg, if the vma's mm is the one in CR3."""
    if mm_id == k.mm_registry.active_mm:
        k.machine.mmu.invlpg(addr)


def flush_tlb_mm(k: Kernel, mm_id: int) -> None:
    """flush_tlb_mm(mm): reload CR3 (drop every non-global entry) if ``mm`` is active."""
    if mm_id == k.mm_registry.active_mm:
        k.machine.mmu.flush_tlb()


def flush_tlb_range(k: Kernel, mm_id: int, start: int, end: int) -> None:
    """flush_tlb_range(vma, start, end): on UP i386 a full __flush_tlb() if the mm is active."""
    if mm_id == k.mm_registry.active_mm and end > start:
        k.machine.mmu.flush_tlb()


def ptep_clear_flush(k: Kernel, mm_id: int, addr: int, ptep: int) -> int:
    """ptep_clear_flush(): get_and_clear the pte, then flush_tlb_page; returns the old pte."""
    old = ptep_get_and_clear(k.machine.mem, ptep)
    flush_tlb_page(k, mm_id, addr)
    return old


def ptep_establish(k: Kernel, mm_id: int, addr: int, ptep: int, pte: int) -> None:
    """ptep_establish(): set_pte, then flush_tlb_page (a present pte changes its rights)."""
    k.machine.mem.write_u32(ptep, pte)
    flush_tlb_page(k, mm_id, addr)


# ---- page-table frames (pgalloc.h, mm/memory.c) ------------------------------------------------


def vl_pfn_to_page(k: Kernel, pfn: int) -> Page:
    """pfn_to_page(): the struct page of frame ``pfn``."""
    return k.mem_map.pages[pfn]


def pgd_alloc(k: Kernel) -> int:
    """pgd_alloc(): a zeroed page-directory frame; -1 when memory is short.

    The kernel copies swapper_pg_dir's kernel entries (768..1023) into it; the model maps no
    kernel space through page tables, so they stay 0.
    """
    from kernelmodel.mm.alloc import vl_alloc_page

    page = vl_alloc_page(k, _GFP_PGTABLE)
    if page is None:
        return -1
    k.machine.mem.zero_frame(page.pfn)
    return page.pfn


def pgd_free(k: Kernel, pgd_pfn: int) -> None:
    """pgd_free(): release a page directory whose user entries are all empty (__free_page)."""
    from kernelmodel.mm.alloc import page_cache_release

    mem = k.machine.mem
    i = 0
    base = pgd_pfn << PAGE_SHIFT
    while i < USER_PTRS_PER_PGD:
        bug_on(mem.read_u32(base + (i << 2)) != 0, "pgd_free: user pde still present")
        i += 1
    page_cache_release(k, vl_pfn_to_page(k, pgd_pfn))


#: GFP_KERNEL | __GFP_REPEAT: pte_alloc_one's mask.
_GFP_PGTABLE: Final = 0x10 | 0x40 | 0x80 | 0x400


def pte_alloc_map(k: Kernel, mm: MmStruct, addr: int) -> int:
    """pte_alloc_map(): the ptep for ``addr``, allocating the page table if there is none.

    A new page table is a zeroed frame (pte_alloc_one), counted in nr_page_table_pages and
    the mm's ``nr_ptes``, and owned by ``mm`` in the registry.

    Returns:
        The ptep, or -1 when no frame could be allocated (the caller waits for memory).

    Caller: holds mm->page_table_lock (not modelled: one CPU).
    """
    mem = k.machine.mem
    ptep = pte_offset_map(mem, mm.pgd, addr)
    if ptep >= 0:
        return ptep
    from kernelmodel.mm.alloc import vl_alloc_page

    page = vl_alloc_page(k, _GFP_PGTABLE)
    if page is None:
        return -1
    mem.zero_frame(page.pfn)
    pmd_populate(mem, mm.pgd, addr, page.pfn)
    k.mm_registry.pt_owner[page.pfn] = mm.mm_id
    mm.nr_ptes += 1
    k.vmstat.nr_page_table_pages += 1
    return pte_offset_map(mem, mm.pgd, addr)


def pte_free(k: Kernel, mm: MmStruct, pt_pfn: int) -> None:
    """pte_free(): release an empty page-table frame of ``mm``.

    Caller: the PDE pointing at it was already cleared (and the TLB flushed).
    """
    from kernelmodel.mm.alloc import page_cache_release

    reg = k.mm_registry
    bug_on(reg.pt_owner.get(pt_pfn, -1) != mm.mm_id, "pte_free: page table not owned by mm")
    del reg.pt_owner[pt_pfn]
    mm.nr_ptes -= 1
    k.vmstat.nr_page_table_pages -= 1
    page_cache_release(k, vl_pfn_to_page(k, pt_pfn))


def vl_pt_is_empty(mem: PhysicalMemory, pt_pfn: int) -> bool:
    """True when every pte of the page table is none."""
    return mem.frame_is_zero(pt_pfn)


def free_pgtables(k: Kernel, mm: MmStruct, start: int, end: int) -> int:
    """clear_page_tables() / free_pgtables(): free the page tables wholly inside [start, end).

    exit_mmap frees every user page table (0, TASK_SIZE); munmap frees those of the 4 MiB
    slots the unmapped range covers entirely and that no vma still uses (the kernel's
    free_pgtables checks the neighbouring vmas; the model checks that the table is empty,
    which is the same once the range has been zapped). The caller flushes the TLB.

    Returns:
        The number of page tables freed.

    Caller: every pte in [start, end) is none.
    """
    mem = k.machine.mem
    first = (start + (1 << PGDIR_SHIFT) - 1) >> PGDIR_SHIFT
    last = end >> PGDIR_SHIFT
    if last > USER_PTRS_PER_PGD:
        last = USER_PTRS_PER_PGD
    freed = 0
    i = first
    while i < last:
        pdep = (mm.pgd << PAGE_SHIFT) + (i << 2)
        pde = mem.read_u32(pdep)
        if (pde & _PAGE_PRESENT) != 0 and vl_pt_is_empty(mem, pde >> PAGE_SHIFT):
            mem.write_u32(pdep, 0)
            pte_free(k, mm, pde >> PAGE_SHIFT)
            freed += 1
        i += 1
    return freed


# ---- address-space switch (mmu_context.h) ------------------------------------------------------


def switch_mm(k: Kernel, next_mm: MmStruct) -> None:
    """switch_mm(prev, next): load next's page directory into CR3 if it is not already there.

    The CR3 load flushes every non-global TLB entry.
    """
    reg = k.mm_registry
    if reg.active_mm == next_mm.mm_id:
        return
    k.machine.mmu.load_cr3(next_mm.pgd << PAGE_SHIFT)
    reg.active_mm = next_mm.mm_id


def vl_switch_mm(k: Kernel, task: Task) -> None:
    """context_switch()'s mm part: called by the scheduler before ``task`` runs.

    A kernel thread has no mm and borrows the previous one (enter_lazy_tlb): CR3 is not
    touched. A user task's mm is loaded with switch_mm.
    """
    if task.mm_id < 0:
        return
    mm = k.mm_registry.mms.get(task.mm_id)
    if mm is not None:
        switch_mm(k, mm)


def vl_leave_mm(k: Kernel, mm_id: int) -> None:
    """Load swapper_pg_dir if ``mm_id`` is in CR3 (before its page directory is freed).

    The kernel keeps a dead mm as ``active_mm`` until the next context switch and frees the
    pgd only in mmdrop; the model switches away at once so that the frame can be freed at
    exit (documented simplification). swapper_pg_dir maps no user address, so the all-zero
    ZERO_PAGE frame serves as it: as a page directory it has no present entry (and nothing
    writes to it: the MMU sets A bits only in present entries).
    """
    reg = k.mm_registry
    if reg.active_mm != mm_id:
        return
    k.machine.mmu.load_cr3(k.zero_page.pfn << PAGE_SHIFT)
    reg.active_mm = -1
