"""Scaffolding for benchmarks and tests: page-table builders and compiled measuring loops.

Nothing here models kernel code (hence the ``vl_`` prefix). The loops live in this compiled
module so that a benchmark measures the MMU, not the interpreter calling it.

Invariants: the builders write page-table words straight into physical memory and never touch
the TLB; the caller flushes (``load_cr3``/``invlpg``) when it changes live mappings.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import i64

from machine.i386 import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PAGE_TABLE,
    PGDIR_SHIFT,
    PTE_FRAME,
    PTE_P,
    PTE_RW,
    PTE_US,
)
from machine.mmu import MMU
from machine.physmem import PhysicalMemory

#: PTE flags of an ordinary writable user page.
VL_USER_RW: Final = PTE_P | PTE_RW | PTE_US


def vl_pte_addr(mem: PhysicalMemory, pgd_paddr: int, vaddr: int) -> int:
    """Physical address of ``vaddr``'s PTE, or -1 when its PDE is not present."""
    pde = mem.read_u32(pgd_paddr + ((vaddr >> PGDIR_SHIFT) << 2))
    if (pde & PTE_P) == 0:
        return -1
    return (pde & PTE_FRAME) + (((vaddr >> PAGE_SHIFT) & 0x3FF) << 2)


def vl_set_pte(mem: PhysicalMemory, pgd_paddr: int, vaddr: int, pte: int, spare_pt_pfn: int) -> int:
    """Write ``pte`` as ``vaddr``'s PTE, creating its page table in ``spare_pt_pfn`` if needed.

    A new page table is zeroed and installed with the user PDE value ``PAGE_TABLE``.

    Caller: ``spare_pt_pfn`` is a free frame when the PDE may be missing.

    Returns:
        The next spare page-table frame: ``spare_pt_pfn + 1`` if it was used, else unchanged.
    """
    pde_addr = pgd_paddr + ((vaddr >> PGDIR_SHIFT) << 2)
    used = 0
    if (mem.read_u32(pde_addr) & PTE_P) == 0:
        mem.zero_frame(spare_pt_pfn)
        mem.write_u32(pde_addr, (spare_pt_pfn << PAGE_SHIFT) | PAGE_TABLE)
        used = 1
    mem.write_u32(vl_pte_addr(mem, pgd_paddr, vaddr), pte)
    return spare_pt_pfn + used


def vl_build_identity_mapping(
    mem: PhysicalMemory,
    mmu: MMU,
    base_vaddr: int,
    npages: int,
    first_pfn: int,
    pt_pfn: int,
    flags: int = VL_USER_RW,
) -> int:
    """Map ``npages`` pages from ``base_vaddr`` to consecutive frames from ``first_pfn``.

    Page tables are taken from consecutive frames starting at ``pt_pfn``; the page directory
    is the one ``mmu.cr3`` points at. The TLB is not flushed.

    Caller: the frames used for page tables do not overlap the mapped frames.

    Returns:
        The first page-table frame left unused.
    """
    pgd = int(mmu.cr3)
    spare = pt_pfn
    i = 0
    while i < npages:
        vaddr = base_vaddr + i * PAGE_SIZE
        spare = vl_set_pte(mem, pgd, vaddr, ((first_pfn + i) << PAGE_SHIFT) | flags, spare)
        i += 1
    return spare


def vl_bench_tlb_hits(mmu: MMU, vaddr: int, n: int) -> int:
    """Probe one mapped address ``n`` times (user read); return a checksum of the results."""
    va = i64(vaddr)
    count = i64(n)
    total: i64 = 0
    i: i64 = 0
    while i < count:
        total += mmu.probe(va, False, True)
        i += 1
    return total


def vl_bench_random_pages(mmu: MMU, vaddrs: list[int]) -> int:
    """Probe each address of ``vaddrs`` once (user read); return a checksum of the results."""
    total: i64 = 0
    for v in vaddrs:
        total += mmu.probe(v, False, True)
    return total
