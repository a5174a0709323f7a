"""Tests for fork (kernelmodel/kernel/fork.py): copy-on-write, TLB flushing, anon_vma sharing."""

from __future__ import annotations

from test_mm_support import access, load, make_kernel, mm_of, new_task, problems

from kernelmodel.include.mm_types import MmStruct
from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from kernelmodel.kernel.exit import do_exit
from kernelmodel.kernel.fork import dup_mm, mmput
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.mmap import do_mmap_pgoff
from kernelmodel.mm.pgtable import pte_pfn, pte_write, vl_read_pte
from kernelmodel.mm.rmap import page_referenced
from kernelmodel.mm.swap import lru_add_drain

BASE = 0x40000000
RW = PROT_READ | PROT_WRITE


def _anon(k: Kernel, task: Task, length: int = 64 << 10) -> None:
    r = do_mmap_pgoff(k, mm_of(k, task), -1, 0, BASE, length, RW, MAP_PRIVATE | MAP_FIXED, 0)
    assert r == BASE


def _fork(k: Kernel, parent: Task, name: str = "child") -> Task:
    """do_fork's memory part: a child task with a copy of the parent's mm."""
    from kernelmodel.oracle.oracle_mm import vl_oracle_fork

    mm = dup_mm(k, mm_of(k, parent))
    assert mm is not None
    child = k.new_task(name, k.add_program(name, []), parent.pid)
    child.mm_id = mm.mm_id
    vl_oracle_fork(k, parent.mm_id, mm.mm_id)
    return child


def _pfn(k: Kernel, task: Task, vaddr: int) -> int:
    return pte_pfn(vl_read_pte(k.machine.mem, mm_of(k, task).pgd, vaddr))


def test_cow_parent_and_child_see_their_own_writes() -> None:
    k = make_kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 0xAAAA)
    c = _fork(k, p)
    shared = _pfn(k, p, BASE)
    assert _pfn(k, c, BASE) == shared
    page = k.mem_map.pages[shared]
    assert page._mapcount == 2 and mm_of(k, c).rss == 1
    assert not pte_write(vl_read_pte(k.machine.mem, mm_of(k, p).pgd, BASE))
    assert problems(k) == []
    assert access(k, c, BASE, True, 0xCCCC)
    assert k.vmstat.cow_faults == 1
    assert _pfn(k, c, BASE) != shared and page._mapcount == 1
    assert load(k, p, BASE) == 0xAAAA and load(k, c, BASE) == 0xCCCC
    lru_add_drain(k)  # the page's pagevec reference would make it look shared (see below)
    assert access(k, p, BASE + 4, True, 0xBBBB)  # mapped once now: reused, not copied
    assert k.vmstat.cow_faults == 1 and _pfn(k, p, BASE) == shared
    assert load(k, c, BASE + 4) == 0 and load(k, p, BASE + 4) == 0xBBBB
    assert problems(k) == []


def test_page_mapped_once_after_child_exit_is_reused() -> None:
    k = make_kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 1)
    c = _fork(k, p)
    do_exit(k, c, 0)
    lru_add_drain(k)
    before = _pfn(k, p, BASE)
    assert k.mem_map.pages[before]._count == 1 and k.mem_map.pages[before]._mapcount == 1
    assert access(k, p, BASE, True, 2)
    assert _pfn(k, p, BASE) == before and k.vmstat.cow_faults == 0
    assert problems(k) == []


def test_page_still_in_a_pagevec_is_copied_not_reused() -> None:
    """2.6.7 behaviour: lru_cache_add_active holds a reference while the page waits in the
    per-CPU pagevec, so can_share_swap_page sees count 2 and do_wp_page copies."""
    k = make_kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 1)
    c = _fork(k, p)
    assert access(k, c, BASE, True, 2)
    page = k.mem_map.pages[_pfn(k, p, BASE)]
    assert page._mapcount == 1 and page._count == 2  # the pte and the pagevec
    assert access(k, p, BASE, True, 3)
    assert k.vmstat.cow_faults == 2
    assert load(k, p, BASE) == 3 and load(k, c, BASE) == 2
    assert problems(k) == []


def test_fork_write_protect_is_flushed_from_the_tlb() -> None:
    """The parent's TLB caches a writable, dirty entry; fork must flush it, or the parent's
    next write would land in the page the child still shares."""
    k = make_kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 1)
    assert access(k, p, BASE, True, 2)  # a TLB hit: the entry is cached writable
    assert k.machine.mmu.tlb_entry(BASE) is not None
    k.current = p.pid  # fork runs in the parent: its mm is in CR3
    c = _fork(k, p)
    k.current = -1
    faults = k.vmstat.pgfault
    assert access(k, p, BASE, True, 3)
    assert k.vmstat.pgfault == faults + 1 and k.vmstat.cow_faults == 1
    assert load(k, c, BASE) == 2 and load(k, p, BASE) == 3
    assert problems(k) == []


def _chain(k: Kernel, first: Task, n: int) -> list[MmStruct]:
    """A fork chain: each new mm is a copy of the previous one (a child forking again)."""
    from kernelmodel.oracle.oracle_mm import vl_oracle_fork

    mms = [mm_of(k, first)]
    for _ in range(n):
        mm = dup_mm(k, mms[-1])
        assert mm is not None
        vl_oracle_fork(k, mms[-1].mm_id, mm.mm_id)
        mms.append(mm)
    return mms


def test_fork_chain_of_100_shares_one_anon_vma() -> None:
    k = make_kernel(mem=8 << 20)
    p = new_task(k, "root")
    _anon(k, p)
    for off in range(0, 16 << 10, 4096):
        assert access(k, p, BASE + off, True, off + 1)
    mms = _chain(k, p, 100)
    vma = mms[0].mmap[0]
    av = k.mm_registry.anon_vma(vma.anon_vma)
    assert len(av.head) == 101
    assert sorted(av.head) == sorted(m.mmap[0].vma_id for m in mms)
    page = k.mem_map.pages[_pfn(k, p, BASE)]
    assert page._mapcount == 101 and page._count >= 101
    assert problems(k) == []
    steps = k.vmstat.page_referenced_steps
    assert page_referenced(k, page) >= 1
    assert k.vmstat.page_referenced_steps - steps == 101  # every vma visited once
    for mm in reversed(mms[1:]):
        mmput(k, mm)
    assert len(av.head) == 1 and page._mapcount == 1
    assert problems(k) == []


def test_fork_copies_swap_of_nothing_and_zero_page() -> None:
    k = make_kernel()
    p = new_task(k)
    _anon(k, p)
    assert load(k, p, BASE) == 0
    c = _fork(k, p)
    assert _pfn(k, c, BASE) == k.zero_page.pfn and mm_of(k, c).rss == 0
    assert access(k, c, BASE, True, 5)
    assert load(k, p, BASE) == 0 and load(k, c, BASE) == 5
    assert problems(k) == []
