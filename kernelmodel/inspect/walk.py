"""The i386 two-level page walk and the words of a page-table entry, for everything that shows
an address space (no kernel counterpart or release; model scaffolding over the kernel's own
``pgtable`` helpers).

The dashboard walks one address of a task (``vl_page_walk``), the page inspector finds which
directory slot points at a page table (``vl_pde_slot_of``), and ``snapshot diff`` and restore
need every present user pte of an address space (``vl_user_ptes``, a pure function of the
directory's and tables' words, so a live RAM and a saved one are walked by the same code).
All of them index with ``pgtable``'s ``pgd_offset``, ``pte_offset_map``, ``pgd_index`` and
``pte_index``, and decode with ``pte_present``, ``pte_file``, ``pte_pfn`` and
``pte_to_swp_entry``: the arithmetic of the MMU's walk (``machine.mmu.MMU.walk_noset``) is not
written again here.

Everything here only reads RAM: no accessed or dirty bit is set and the TLB is not used.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.mm.pgtable import (
    pgd_offset,
    pmd_present,
    pte_file,
    pte_offset_map,
    pte_pfn,
    pte_present,
    pte_to_swp_entry,
    swp_offset,
    swp_type,
)
from machine.i386 import (
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_P,
    PTE_PCD,
    PTE_PS,
    PTE_PWT,
    PTE_RW,
    PTE_US,
    USER_PTRS_PER_PGD,
)
from machine.physmem import PhysicalMemory

#: Entries of a page table (and of a page directory) on i386.
PTRS_PER_PTE: Final = 1024


class PageWalk:
    """One address walked through a page directory: where each entry is and what it holds.

    ``pte_addr`` is -1 and ``pte`` 0 when the PDE is not present.
    """

    def __init__(self, vaddr: int, pgd: int, pde_addr: int, pde: int, pte_addr: int,
                 pte: int) -> None:
        self.vaddr = vaddr
        self.pgd = pgd
        self.pde_addr = pde_addr
        self.pde = pde
        self.pte_addr = pte_addr
        self.pte = pte

    @property
    def frame(self) -> int:
        """The frame the MMU reaches (the pte has _PAGE_PRESENT), or -1."""
        return pte_pfn(self.pte) if self.pte & PTE_P else -1

    @property
    def paddr(self) -> int:
        """The physical address the MMU reaches, or -1."""
        if not self.pte & PTE_P:
            return -1
        return (pte_pfn(self.pte) << PAGE_SHIFT) | (self.vaddr & ((1 << PAGE_SHIFT) - 1))


def vl_page_walk(mem: PhysicalMemory, pgd: int, vaddr: int) -> PageWalk:
    """Walk ``vaddr`` through the page directory in frame ``pgd``, as the MMU would
    (``MMU.walk_noset`` for the directory in CR3), for any address space."""
    va = vaddr & 0xFFFFFFFF
    pde_addr = pgd_offset(pgd, va)
    pde = mem.read_u32(pde_addr)
    if not pmd_present(pde):
        return PageWalk(va, pgd, pde_addr, pde, -1, 0)
    ptep = pte_offset_map(mem, pgd, va)
    return PageWalk(va, pgd, pde_addr, pde, ptep, mem.read_u32(ptep))


def vl_pde_slot_of(mem: PhysicalMemory, pgd: int, pt_pfn: int) -> int:
    """The user slot of directory ``pgd`` whose present PDE points at page table ``pt_pfn``,
    or -1."""
    i = 0
    while i < USER_PTRS_PER_PGD:
        pde = mem.read_u32(pgd_offset(pgd, i << PGDIR_SHIFT))
        if pmd_present(pde) and pte_pfn(pde) == pt_pfn:
            return i
        i += 1
    return -1


def vl_user_ptes(pgd_words: list[int], tables: dict[int, list[int]]) -> list[tuple[int, int]]:
    """(user address, pte) of every present pte below PAGE_OFFSET, in address order
    (present as Linux means it, ``pte_present``: a PROT_NONE pte still maps its page).

    Args:
        pgd_words: the directory's words (at least its USER_PTRS_PER_PGD user slots).
        tables: page-table words by frame; a present PDE naming a frame that is not here
            names a table of zeros (a saved RAM leaves zero frames out).
    """
    out: list[tuple[int, int]] = []
    i = 0
    n = min(len(pgd_words), USER_PTRS_PER_PGD)
    while i < n:
        pde = pgd_words[i]
        if pmd_present(pde):
            table = tables.get(pte_pfn(pde))
            if table is not None:
                j = 0
                while j < len(table):
                    pte = table[j]
                    if pte_present(pte):
                        out.append(((i << PGDIR_SHIFT) | (j << PAGE_SHIFT), pte))
                    j += 1
        i += 1
    return out


def _frame_words(mem: PhysicalMemory, pfn: int) -> list[int]:
    """The frame's 1024 words (one slice of RAM's word view where the host allows it)."""
    base = pfn << PAGE_SHIFT
    if mem.fast_words:
        first = base >> 2
        words: list[int] = mem.words[first:first + PTRS_PER_PTE].tolist()
        return words
    return [mem.read_u32(base + (j << 2)) for j in range(PTRS_PER_PTE)]


def vl_mm_user_ptes(mem: PhysicalMemory, pgd: int) -> list[tuple[int, int]]:
    """``vl_user_ptes`` of the address space whose directory is frame ``pgd`` in live RAM."""
    pgd_words = _frame_words(mem, pgd)[:USER_PTRS_PER_PGD]
    tables: dict[int, list[int]] = {}
    for pde in pgd_words:
        if pmd_present(pde) and 0 <= pte_pfn(pde) < mem.nframes:
            tables[pte_pfn(pde)] = _frame_words(mem, pte_pfn(pde))
    return vl_user_ptes(pgd_words, tables)


# ---- the words of an entry -----------------------------------------------------------------------

_PTE_BIT_NAMES: Final = (
    (PTE_P, "P"),
    (PTE_RW, "RW"),
    (PTE_US, "US"),
    (PTE_PWT, "PWT"),
    (PTE_PCD, "PCD"),
    (PTE_A, "A"),
    (PTE_D, "D"),
    (PTE_PS, "PS"),
    (PTE_G, "G"),
)


def vl_pte_bits_text(word: int) -> str:
    """The set low bits of a present PDE/PTE by name: "P RW US A D"."""
    names = [name for bit, name in _PTE_BIT_NAMES if word & bit]
    return " ".join(names) if names else "-"


def vl_swap_entry_text(entry: int) -> str:
    """A swp_entry_t value in words: "swp_entry 0x12 (type 0, offset 18)"."""
    return f"swp_entry {entry:#x} (type {swp_type(entry)}, offset {swp_offset(entry)})"


def vl_pte_text(pte: int) -> str:
    """A PTE in words: present (frame and bits), a swap entry, a file pte or none."""
    if pte == 0:
        return "none"
    if pte & PTE_P:
        return f"frame {pte_pfn(pte):#x} [{vl_pte_bits_text(pte)}]"
    if pte_present(pte):
        return f"frame {pte_pfn(pte):#x} PROT_NONE [{vl_pte_bits_text(pte & ~PTE_PS)}]"
    if pte_file(pte):
        return "file pte (nonlinear)"
    entry = pte_to_swp_entry(pte)
    return f"swap entry type {swp_type(entry)} offset {swp_offset(entry)}"
