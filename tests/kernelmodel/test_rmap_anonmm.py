"""Hugh Dickins' anonmm (kernelmodel/mm/rmap_anonmm.py) through rmap.py, on a real kernel with
``rmap="anonmm"``: bundles at exec and fork, the page's mm and address, the walks, exit and
migration, the reference counts, rmap_bytes and the snapshot form. check_mm and the memory
oracle run after every step."""

from __future__ import annotations

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
)

from kernelmodel.include.mm_types import SIZEOF_ANONMM, AnonMm
from kernelmodel.include.page import PageAnon, get_page
from kernelmodel.kernel.exit import do_exit
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import pte_present, pte_to_swp_entry, vl_read_pte
from kernelmodel.mm.rmap import SWAP_SUCCESS, page_referenced, try_to_unmap, vl_rmap_find_ptes
from kernelmodel.mm.rmap_anonmm import am_problems, am_walk_order
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.state.restore import vl_kernel_from_state
from machine.isa import OP_COMPUTE, Insn

BASE = 0x40000000
LONG = [Insn(OP_COMPUTE, 10**15)]


def _kernel() -> Kernel:
    return make_kernel(rmap="anonmm")


def _anon(k: Kernel, task: Task) -> None:
    anon_map(k, task, BASE)


def _am(k: Kernel, task: Task) -> AnonMm:
    return k.mm_registry.anonmms[mm_of(k, task).anonmm]


def _clean(k: Kernel) -> None:
    assert problems(k) == []
    assert am_problems(k) == []
    assert k.vmstat.rmap_bytes == SIZEOF_ANONMM * len(k.mm_registry.anonmms)


def test_exec_starts_a_bundle_and_fork_joins_it() -> None:
    k = _kernel()
    p = new_task(k, "parent")
    hd = _am(k, p)
    assert hd.head == hd.anonmm_id and hd.count == 2 and hd.mm == p.mm_id
    c1 = fork_child(k, p)
    c2 = fork_child(k, c1)  # a grandchild joins the same bundle, at its tail
    a1, a2 = _am(k, c1), _am(k, c2)
    assert a1.head == a2.head == hd.anonmm_id
    assert hd.members == [a1.anonmm_id, a2.anonmm_id]
    assert hd.count == 4 and a1.count == 1 and a2.count == 1
    assert k.vmstat.rmap_bytes == 3 * SIZEOF_ANONMM
    assert [a.anonmm_id for a in am_walk_order(k, a1)] == [a2.anonmm_id, hd.anonmm_id]
    other = new_task(k, "other")  # another exec: a bundle of its own
    assert _am(k, other).head == _am(k, other).anonmm_id
    assert not k.mm_registry.anon_vmas
    _clean(k)


def test_anonymous_page_records_its_mm_and_address() -> None:
    k = _kernel()
    t = new_task(k)
    _anon(k, t)
    assert access(k, t, BASE + 0x3004, True, 7)
    page = page_at(k, t, BASE + 0x3000)
    assert PageAnon(page) and page.mapping is _am(k, t)
    assert page.index == BASE + 0x3000  # a virtual address, not a linear page index
    assert _am(k, t).count == 3  # mm, head, page
    assert vl_rmap_find_ptes(k, page) == [(t.mm_id, BASE + 0x3000)]
    assert mm_of(k, t).mmap[0].anon_vma < 0  # no anon_vma in this design
    _clean(k)


def test_try_to_unmap_walks_the_bundle_at_one_address() -> None:
    from kernelmodel.mm.swap_state import add_to_swap

    k = _kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 0x1234)
    c = fork_child(k, p)
    lru_add_drain(k)
    page = page_at(k, p, BASE)
    get_page(page)
    page.flags |= 1  # locked, as shrink_list holds it
    assert add_to_swap(k, page) == 1
    page_referenced(k, page)  # clears both young bits, walking parent then child
    steps = k.vmstat.try_to_unmap_steps
    assert try_to_unmap(k, page) == SWAP_SUCCESS
    assert k.vmstat.try_to_unmap_steps - steps == 2
    assert page._mapcount == 0 and not PageAnon(page) and page.mapping is None
    for t in (p, c):
        pte = vl_read_pte(k.machine.mem, mm_of(k, t).pgd, BASE)
        assert not pte_present(pte) and pte_to_swp_entry(pte) == page.private
    assert _am(k, p).count == 3  # mm, head, the child's membership: the page let go
    unlock_page(k, page)
    page_cache_release(k, page)
    _clean(k)
    # swap-in in the child first: the page now belongs to the child's anonmm
    assert load(k, c, BASE) == 0x1234
    again = page_at(k, c, BASE)
    assert again.mapping is _am(k, c) and again.index == BASE
    assert load(k, p, BASE) == 0x1234
    assert page_at(k, p, BASE) is again and again._mapcount == 2
    _clean(k)


def test_cow_copies_belong_to_the_writer() -> None:
    k = _kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 1)
    c = fork_child(k, p)
    assert access(k, c, BASE, True, 2)  # the child's copy
    mine = page_at(k, c, BASE)
    theirs = page_at(k, p, BASE)
    assert mine is not theirs
    assert mine.mapping is _am(k, c) and theirs.mapping is _am(k, p)
    assert load(k, p, BASE) == 1 and load(k, c, BASE) == 2
    # reclaiming the parent's page finds it in the parent at once: one step
    steps = k.vmstat.page_referenced_steps
    page_referenced(k, theirs)
    assert k.vmstat.page_referenced_steps - steps == 1
    _clean(k)


def test_exit_of_the_first_mm_migrates_its_pages_and_frees_everything() -> None:
    k = _kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 5)
    c = fork_child(k, p)
    page = page_at(k, c, BASE)
    hd = _am(k, p)
    do_exit(k, p, 0)
    assert hd.mm == -1 and page.mapping is hd  # the page still points at the dead head
    assert hd.count == 3  # head, the child's membership, the page
    _clean(k)
    page_referenced(k, page)  # finds it in the child: migrate
    assert page.mapping is _am(k, c) and hd.count == 2
    _clean(k)
    do_exit(k, c, 0)
    assert k.mm_registry.anonmms == {} and k.vmstat.rmap_bytes == 0
    assert k.vmstat.rmap_bytes_peak == 2 * SIZEOF_ANONMM
    _clean(k)


def test_snapshot_round_trip_keeps_each_pages_anonmm() -> None:
    k = _kernel()
    p = new_task(k, "parent")
    _anon(k, p)
    assert access(k, p, BASE, True, 5)
    assert access(k, p, BASE + 0x1000, True, 6)
    c = fork_child(k, p)
    assert access(k, c, BASE + 0x1000, True, 7)
    do_exit(k, p, 0)  # the shared page now points at an exited head
    state = k.to_state()
    assert "anonmm" in state and len(state["anonmm"]["pages"]) == 4  # type: ignore[index]
    k2 = vl_kernel_from_state(state)
    assert k2.to_state() == state
    assert problems(k2) == [] and am_problems(k2) == []
    shared = k2.mem_map.pages[page_at(k, c, BASE).pfn]
    assert isinstance(shared.mapping, AnonMm) and shared.mapping.mm == -1
