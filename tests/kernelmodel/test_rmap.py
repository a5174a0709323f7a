"""Tests for the object-based reverse mapping (kernelmodel/mm/rmap.py, anon_vma profile)."""

from __future__ import annotations

import pytest
from test_mm_support import (
    access,
    anon_map,
    fork_child,
    load,
    make_kernel,
    mm_of,
    new_task,
    page_at,
    problems,
    run_events,
)

from kernelmodel.include.bug import KernelBug
from kernelmodel.include.mm_types import SIZEOF_ANON_VMA, VMA_RMAP_BYTES, AnonVma
from kernelmodel.include.page import Page, PageAnon, PageSwapCache, TestClearPageDirty, get_page
from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.mmap import do_mmap_pgoff, do_munmap
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import (
    pte_present,
    pte_to_swp_entry,
    pte_young,
    swp_offset,
    vl_read_pte,
)
from kernelmodel.mm.rmap import (
    SWAP_FAIL,
    SWAP_SUCCESS,
    page_referenced,
    try_to_unmap,
    vl_rmap_find_ptes,
    vma_address,
)
from kernelmodel.mm.swap import lru_add_drain
from machine.isa import OP_COMPUTE, Insn

BASE = 0x40000000
RW = PROT_READ | PROT_WRITE
LONG = [Insn(OP_COMPUTE, 10**15)]


def _anon(k: Kernel, task: Task, addr: int = BASE, length: int = 64 << 10) -> None:
    anon_map(k, task, addr, length)


def _unmapped_anon(page: Page) -> bool:
    """clear_page_anon ran: no anon_vma any more (a function, so the type is not narrowed)."""
    return page.mapping is None


def _age(k: Kernel, page: Page) -> None:
    """Clear every young bit (what refill_inactive_zone's page_referenced does)."""
    page_referenced(k, page)
    page_referenced(k, page)


def test_vma_address_and_linear_index() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE + 0x3000, True, 9)
    page = page_at(k, t, BASE + 0x3000)
    vma = mm_of(k, t).mmap[0]
    assert vma.vm_pgoff == BASE >> 12
    assert vma_address(page, vma) == BASE + 0x3000
    assert vl_rmap_find_ptes(k, page) == [(t.mm_id, BASE + 0x3000)]
    assert do_munmap(k, mm_of(k, t), BASE, 0x2000) == 0  # the vma now starts above
    vma = mm_of(k, t).mmap[0]
    assert vma.vm_start == BASE + 0x2000 and vma.vm_pgoff == (BASE >> 12) + 2
    assert vma_address(page, vma) == BASE + 0x3000
    page.index = BASE >> 12  # an index below the vma: not covered
    assert vma_address(page, vma) < 0
    page.index = (BASE + 0x3000) >> 12
    assert problems(k) == []


def test_page_referenced_clears_young_without_flushing() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE, True, 1)
    page = page_at(k, t, BASE)
    ptep_val = vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE)
    assert pte_young(ptep_val)
    assert page_referenced(k, page) >= 1
    assert not pte_young(vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE))
    # the TLB still holds the translation: the next access sets no young bit
    assert load(k, t, BASE) == 1
    assert not pte_young(vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE))
    assert page_referenced(k, page) == 0
    k.machine.mmu.flush_tlb()
    assert load(k, t, BASE) == 1
    assert page_referenced(k, page) == 1


def test_anon_vma_prepare_reuses_a_mergeable_neighbour() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t, BASE, 0x4000)
    assert access(k, t, BASE, True, 1)
    # a second mapping right above, with other protections: not merged, but mergeable by
    # mprotect, so its first anonymous page reuses the neighbour's anon_vma (rmap 40)
    r = do_mmap_pgoff(k, mm_of(k, t), -1, 0, BASE + 0x4000, 0x4000, PROT_READ | PROT_WRITE | 4,
                      MAP_PRIVATE | MAP_FIXED, 0)
    assert r == BASE + 0x4000
    a, b = mm_of(k, t).mmap
    assert a.anon_vma >= 0 and b.anon_vma < 0
    assert access(k, t, BASE + 0x4000, True, 2)
    assert b.anon_vma == a.anon_vma
    av = k.mm_registry.anon_vmas[a.anon_vma]
    assert av.head == [b.vma_id, a.vma_id]  # list_add: newest first
    assert problems(k) == []


def test_anon_vma_freed_with_its_last_vma_and_rmap_bytes() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert k.vmstat.rmap_bytes == VMA_RMAP_BYTES
    assert access(k, t, BASE, True, 1)
    assert k.vmstat.rmap_bytes == VMA_RMAP_BYTES + SIZEOF_ANON_VMA
    assert len(k.mm_registry.anon_vmas) == 1
    assert do_munmap(k, mm_of(k, t), BASE, 64 << 10) == 0
    assert k.mm_registry.anon_vmas == {} and k.vmstat.rmap_bytes == 0
    assert k.vmstat.rmap_bytes_peak == VMA_RMAP_BYTES + SIZEOF_ANON_VMA
    assert problems(k) == []


def test_unknown_rmap_profile_is_refused() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE, True, 1)
    k.cfg.rmap = "objrmap"
    with pytest.raises(KernelBug, match="unknown design 'objrmap'"):
        page_referenced(k, page_at(k, t, BASE))
    k.cfg.rmap = "anon_vma"


def _swap_out_setup(k: Kernel) -> tuple[Task, Task, Page]:
    """A page shared by parent and child after fork, in the swap cache, locked, with the
    reference shrink_list holds, and its ptes old."""
    from kernelmodel.mm.swap_state import add_to_swap

    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 0x1234)
    c = fork_child(k, p)
    lru_add_drain(k)
    page = page_at(k, p, BASE)
    get_page(page)  # shrink_cache's isolation reference
    assert not page.flags & 1
    page.flags |= 1  # TestSetPageLocked, as shrink_list does
    assert add_to_swap(k, page) == 1 and PageSwapCache(page)
    _age(k, page)
    return p, c, page


def test_try_to_unmap_young_pte_fails() -> None:
    from kernelmodel.mm.swap_state import add_to_swap

    k = make_kernel()
    p = new_task(k)
    _anon(k, p)
    assert access(k, p, BASE, True, 1)
    lru_add_drain(k)
    page = page_at(k, p, BASE)
    get_page(page)
    page.flags |= 1
    assert add_to_swap(k, page) == 1
    assert try_to_unmap(k, page) == SWAP_FAIL  # the pte was young (and is now old)
    assert page._mapcount == 1
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    assert page._mapcount == 0 and not PageAnon(page)
    unlock_page(k, page)
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)
    assert problems(k) == []


def test_try_to_unmap_anon_writes_swap_ptes_and_swapin_restores() -> None:
    k = make_kernel()
    p, c, page = _swap_out_setup(k)
    steps = k.vmstat.try_to_unmap_steps
    mapped = k.vmstat.nr_mapped
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    assert k.vmstat.try_to_unmap_steps - steps == 2 and k.vmstat.try_to_unmap_calls == 1
    assert page._mapcount == 0 and not PageAnon(page) and _unmapped_anon(page)
    assert k.vmstat.nr_mapped == mapped - 1
    assert mm_of(k, p).rss == 0 and mm_of(k, c).rss == 0
    entry = page.private
    for t in (p, c):
        pte = vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE)
        assert not pte_present(pte) and pte_to_swp_entry(pte) == entry
    assert k.swap.swap_info[0].swap_map[swp_offset(entry)] == 3  # two ptes + the cache
    unlock_page(k, page)
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)
    assert problems(k) == []
    # swap-in from the swap cache: a minor fault that maps the same page
    assert load(k, c, BASE) == 0x1234
    again = page_at(k, c, BASE)
    assert again is page and isinstance(again.mapping, AnonVma)
    assert k.vmstat.pgmajfault == 0
    assert access(k, p, BASE, True, 0x5678)
    assert load(k, c, BASE) == 0x1234 and load(k, p, BASE) == 0x5678
    assert problems(k) == []


def test_swapped_out_page_comes_back_with_a_major_fault() -> None:
    from kernelmodel.mm.page_writeback import WritebackControl
    from kernelmodel.mm.swap_state import delete_from_swap_cache, swap_writepage

    k = make_kernel()
    p, c, page = _swap_out_setup(k)
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    assert TestClearPageDirty(page)
    swap_writepage(k, page, WritebackControl(0, 32, True, True))  # unlocks the page
    run_events(k, 200)
    assert not page.flags & (1 << 13)  # writeback done
    page.flags |= 1
    delete_from_swap_cache(k, page)
    unlock_page(k, page)
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)
    assert page._count == 0
    assert problems(k) == []
    assert not access(k, c, BASE, False)  # the read of the slot starts: the task sleeps
    assert k.vmstat.pgmajfault == 1 and c.maj_flt == 1 and c.kstack
    run_events(k, 400)  # the read completes, the scheduler re-runs the fault op
    assert not c.kstack
    assert load(k, c, BASE) == 0x1234 and load(k, p, BASE) == 0x1234
    assert k.vmstat.pgmajfault == 1
    assert problems(k) == []


def test_try_to_unmap_flushes_the_cached_translation() -> None:
    """The TLB still holds a writable entry (page_referenced does not flush); try_to_unmap's
    ptep_clear_flush must drop it, so the next write faults into do_swap_page."""
    from kernelmodel.mm.alloc import page_cache_release
    from kernelmodel.mm.swap_state import add_to_swap

    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE, True, 1)
    assert access(k, t, BASE, True, 2)  # a TLB hit on a writable, dirty entry
    lru_add_drain(k)
    page = page_at(k, t, BASE)
    get_page(page)
    page.flags |= 1
    assert add_to_swap(k, page) == 1
    _age(k, page)
    assert k.machine.mmu.tlb_entry(BASE) is not None  # aging did not flush
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    assert k.machine.mmu.tlb_entry(BASE) is None
    unlock_page(k, page)
    page_cache_release(k, page)
    faults = k.vmstat.pgfault
    assert access(k, t, BASE, True, 3)
    assert k.vmstat.pgfault == faults + 1 and load(k, t, BASE) == 3
    assert problems(k) == []
