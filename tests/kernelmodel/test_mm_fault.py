"""Tests for the fault path (kernelmodel/mm/memory.py) through the real MMU."""

from __future__ import annotations

from test_mm_support import access, load, make_kernel, mm_of, new_task, problems

from kernelmodel.include.mm_types import AnonVma
from kernelmodel.include.page import PageAnon, PageReserved
from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE
from kernelmodel.include.vmstat import TR_SEGV
from kernelmodel.mm.mmap import do_mmap_pgoff
from kernelmodel.mm.pgtable import pte_dirty, pte_pfn, pte_write, vl_read_pte

BASE = 0x40000000
RW = PROT_READ | PROT_WRITE


def _anon(k, task, addr: int = BASE, length: int = 64 << 10, prot: int = RW) -> int:  # type: ignore[no-untyped-def]
    r = do_mmap_pgoff(k, mm_of(k, task), -1, 0, addr, length, prot, MAP_PRIVATE | MAP_FIXED, 0)
    assert r == addr
    return r


def test_read_fault_maps_zero_page_read_only() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert load(k, t, BASE + 0x10) == 0
    pte = vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE)
    assert pte_pfn(pte) == k.zero_page.pfn and not pte_write(pte)
    assert mm_of(k, t).rss == 0
    assert k.zero_page._mapcount == 0 and PageReserved(k.zero_page)
    assert k.vmstat.zero_page_maps == 1 and k.vmstat.pgfault == 1
    assert k.vmstat.nr_mapped == 0 and t.min_flt == 1
    assert problems(k) == []


def test_write_fault_allocates_a_zeroed_anonymous_page() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE + 0x2004, True, 0xDEADBEEF)
    mm = mm_of(k, t)
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE + 0x2000)
    assert pte_write(pte) and pte_dirty(pte)
    page = k.mem_map.pages[pte_pfn(pte)]
    assert PageAnon(page) and page._mapcount == 1 and isinstance(page.mapping, AnonVma)
    assert page.index == (BASE + 0x2000) >> 12  # linear index of a never-moved vma
    assert mm.rss == 1 and k.vmstat.nr_anon == 1 and k.vmstat.nr_mapped == 1
    assert load(k, t, BASE + 0x2004) == 0xDEADBEEF
    assert load(k, t, BASE + 0x2008) == 0
    assert problems(k) == []


def test_read_then_write_copies_from_the_zero_page() -> None:
    k = make_kernel()
    t = new_task(k)
    _anon(k, t)
    assert load(k, t, BASE) == 0
    assert access(k, t, BASE + 4, True, 7)
    assert k.vmstat.cow_faults == 1
    assert load(k, t, BASE) == 0 and load(k, t, BASE + 4) == 7
    assert k.machine.mem.frame_is_zero(k.zero_page.pfn)
    assert mm_of(k, t).rss == 1
    assert problems(k) == []


def test_segfault_kills_only_the_faulting_task() -> None:
    k = make_kernel()
    bad = new_task(k, "bad")
    good = new_task(k, "good")
    _anon(k, bad)
    _anon(k, good)
    assert access(k, good, BASE, True, 1)
    assert access(k, bad, BASE, True, 2)
    assert not access(k, bad, BASE + (64 << 10), True, 3)  # just past the vma
    assert bad.exit_code == 139 and bad.mm_id == -1
    assert k.vmstat.segfaults == 1
    ev = [e for e in k.trace.since(0) if e.kind == TR_SEGV]
    assert len(ev) == 1 and ev[0].pid == bad.pid and "SIGSEGV" in ev[0].s
    assert load(k, good, BASE) == 1
    assert problems(k) == []


def test_write_to_read_only_vma_and_read_of_prot_none_are_segfaults() -> None:
    k = make_kernel()
    ro = new_task(k, "ro")
    none = new_task(k, "none")
    _anon(k, ro, prot=PROT_READ)
    _anon(k, none, prot=PROT_NONE)
    assert load(k, ro, BASE) == 0
    assert not access(k, ro, BASE, True, 1)
    assert ro.exit_code == 139
    assert not access(k, none, BASE, False)
    assert none.exit_code == 139
    assert k.vmstat.segfaults == 2
    assert problems(k) == []


def test_exit_frees_every_frame() -> None:
    k = make_kernel()
    free0 = k.pgdat.zone.free_pages
    t = new_task(k)
    _anon(k, t, length=1 << 20)
    for off in range(0, 1 << 20, 4096):
        assert access(k, t, BASE + off, True, off)
    assert mm_of(k, t).rss == 256
    from kernelmodel.kernel.exit import do_exit
    from kernelmodel.mm.swap import lru_add_drain

    do_exit(k, t, 0)
    lru_add_drain(k)
    assert t.mm_id == -1
    assert k.pgdat.zone.free_pages == free0
    assert k.vmstat.nr_page_table_pages == 0 and k.vmstat.nr_anon == 0
    assert k.vmstat.rmap_bytes == 0
    assert problems(k) == []
