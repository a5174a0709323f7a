"""Tests for kernelmodel/mm/pgtable.py on a hand-built machine (frames from a local counter)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kernelmodel.include.mm_types import VM_EXEC, VM_READ, VM_SHARED, VM_WRITE
from kernelmodel.mm import pgtable as pt
from machine.board import Machine, MachineConfig
from machine.i386 import FEC_PROT, FEC_USER, FEC_WRITE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US


def _machine() -> Machine:
    return Machine(MachineConfig(mem_bytes=1 << 20, disk_bytes=1 << 20))


class _Frames:
    """A bump allocator of zeroed frames (the page allocator's stand-in)."""

    def __init__(self, m: Machine, first: int = 8) -> None:
        self.m = m
        self.next = first

    def get(self) -> int:
        pfn = self.next
        self.next += 1
        self.m.mem.zero_frame(pfn)
        return pfn


def test_protection_map_private_writable_is_copy() -> None:
    assert pt.vm_get_page_prot(VM_READ | VM_WRITE) == pt.PAGE_COPY
    assert pt.vm_get_page_prot(VM_READ | VM_WRITE | VM_SHARED) == pt.PAGE_SHARED
    assert pt.vm_get_page_prot(0) == pt.PAGE_NONE
    assert pt.vm_get_page_prot(VM_EXEC) == pt.PAGE_READONLY
    assert pt.PAGE_COPY & PTE_RW == 0
    assert pt.PAGE_SHARED & PTE_RW


def test_pte_bit_helpers() -> None:
    pte = pt.mk_pte(0x123, pt.PAGE_COPY)
    assert pt.pte_present(pte) and not pt.pte_write(pte) and pt.pte_young(pte)
    assert pt.pte_pfn(pte) == 0x123
    w = pt.pte_mkdirty(pt.pte_mkwrite(pte))
    assert pt.pte_write(w) and pt.pte_dirty(w)
    assert not pt.pte_write(pt.pte_wrprotect(w))
    assert not pt.pte_young(pt.pte_mkold(w))
    assert not pt.pte_dirty(pt.pte_mkclean(w))
    assert pt.pte_none(0) and not pt.pte_present(0)
    assert pt.pte_present(pt.PAGE_NONE)  # PROTNONE counts as present to Linux
    assert pt.pte_modify(w, pt.PAGE_READONLY) & PTE_D


@given(st.integers(0, 31), st.integers(0, pt.SWP_OFFSET_MASK >> 3))
def test_swap_pte_roundtrip(t: int, off: int) -> None:
    e = pt.swp_entry(t, off)
    assert pt.swp_type(e) == t and pt.swp_offset(e) == off
    pte = pt.swp_entry_to_pte(e)
    assert (not pt.pte_present(pte) and not pt.pte_file(pte) and not pt.pte_none(pte)) or e == 0
    assert (pte >> 1) & 0x1F == t and pte >> 8 == off
    assert pt.pte_to_swp_entry(pte) == e


@given(st.integers(0, (1 << pt.PTE_FILE_MAX_BITS) - 1))
def test_file_pte_roundtrip(off: int) -> None:
    pte = pt.pgoff_to_pte(off)
    assert pt.pte_file(pte) and not pt.pte_present(pte)
    assert pt.pte_to_pgoff(pte) == off


def test_pmd_populate_and_mmu_walk_the_same_words() -> None:
    m = _machine()
    f = _Frames(m)
    pgd = f.get()
    addr = 0x40001000
    assert pt.pte_offset_map(m.mem, pgd, addr) == -1
    table = f.get()
    pt.pmd_populate(m.mem, pgd, addr, table)
    ptep = pt.pte_offset_map(m.mem, pgd, addr)
    assert ptep == (table << 12) + (((addr >> 12) & 0x3FF) << 2)
    data = f.get()
    pt.set_pte(m.mem, ptep, pt.mk_pte(data, pt.PAGE_COPY))
    m.mmu.load_cr3(pgd << 12)
    assert m.mmu.probe(addr + 8, False, True) == (data << 12) + 8
    assert pt.vl_read_pte(m.mem, pgd, addr) & PTE_A
    # a write to a PAGE_COPY pte is a protection fault
    assert m.mmu.probe(addr, True, True) == -1
    assert m.mmu.fault_error == FEC_PROT | FEC_WRITE | FEC_USER
    assert pt.pmd_clear(m.mem, pgd, addr) == table
    assert pt.pte_offset_map(m.mem, pgd, addr) == -1


def test_test_and_clear_young_does_not_flush() -> None:
    """A stale TLB entry hides re-accesses: the A bit stays clear after a TLB hit."""
    m = _machine()
    f = _Frames(m)
    pgd = f.get()
    addr = 0x08048000
    pt.pmd_populate(m.mem, pgd, addr, f.get())
    ptep = pt.pte_offset_map(m.mem, pgd, addr)
    pt.set_pte(m.mem, ptep, pt.mk_pte(f.get(), pt.PAGE_SHARED))
    m.mmu.load_cr3(pgd << 12)
    assert m.mmu.probe(addr, False, True) >= 0
    assert pt.ptep_test_and_clear_young(m.mem, ptep)
    assert not pt.ptep_test_and_clear_young(m.mem, ptep)
    assert m.mmu.probe(addr, False, True) >= 0  # TLB hit: no walk, A not set again
    assert m.mem.read_u32(ptep) & PTE_A == 0
    m.mmu.invlpg(addr)
    assert m.mmu.probe(addr, False, True) >= 0
    assert m.mem.read_u32(ptep) & PTE_A


def test_wrprotect_without_flush_is_invisible_to_the_mmu() -> None:
    """Why every downgrade needs a flush: the cached writable entry still allows writes."""
    m = _machine()
    f = _Frames(m)
    pgd = f.get()
    addr = 0x10000
    pt.pmd_populate(m.mem, pgd, addr, f.get())
    ptep = pt.pte_offset_map(m.mem, pgd, addr)
    pt.set_pte(m.mem, ptep, pt.mk_pte(f.get(), pt.PAGE_SHARED))
    m.mmu.load_cr3(pgd << 12)
    assert m.mmu.probe(addr, True, True) >= 0
    pt.ptep_set_wrprotect(m.mem, ptep)
    assert m.mmu.probe(addr, True, True) >= 0  # stale
    m.mmu.invlpg(addr)
    assert m.mmu.probe(addr, True, True) == -1


def test_get_and_clear_and_dirty() -> None:
    m = _machine()
    f = _Frames(m)
    pgd = f.get()
    pt.pmd_populate(m.mem, pgd, 0, f.get())
    ptep = pt.pte_offset_map(m.mem, pgd, 0)
    pt.set_pte(m.mem, ptep, pt.mk_pte(5, pt.PAGE_SHARED))
    pt.ptep_mkdirty(m.mem, ptep)
    assert pt.ptep_test_and_clear_dirty(m.mem, ptep)
    assert not pt.ptep_test_and_clear_dirty(m.mem, ptep)
    old = pt.ptep_get_and_clear(m.mem, ptep)
    assert pt.pte_pfn(old) == 5 and old & PTE_P and old & PTE_US
    assert m.mem.read_u32(ptep) == 0
    assert pt.vl_pt_is_empty(m.mem, pt.pmd_clear(m.mem, pgd, 0))
