"""mm/swap.c: LRU pagevecs, list order, mark_page_accessed, rotate_reclaimable_page."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_swap_support import alloc_user_page, make_kernel

from kernelmodel.check.check_swap import check_swap
from kernelmodel.include.mm_inline import vl_lru_list, vl_lru_tail
from kernelmodel.include.page import (
    PageActive,
    PageLRU,
    PageReferenced,
    PageWriteback,
    SetPageDirty,
    SetPageLocked,
    SetPageWriteback,
    page_count,
)
from kernelmodel.include.swap import PAGEVEC_SIZE
from kernelmodel.include.swap_generated import load_lru_pvecs, save_lru_pvecs
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.swap import (
    activate_page,
    lru_add_drain,
    lru_cache_add,
    lru_cache_add_active,
    mark_page_accessed,
    rotate_reclaimable_page,
)


def test_pagevec_defers_lru_add_until_full_or_drained() -> None:
    k = make_kernel()
    zone = k.pgdat.zone
    pages = [alloc_user_page(k) for _ in range(PAGEVEC_SIZE)]
    for p in pages[:-1]:
        lru_cache_add(k, p)
        assert not PageLRU(p) and page_count(p) == 2  # the pagevec holds a reference
    assert zone.nr_inactive == 0
    assert check_swap(k) == []
    lru_cache_add(k, pages[-1])  # the 16th page drains the pagevec
    assert zone.nr_inactive == PAGEVEC_SIZE
    assert all(PageLRU(p) and not PageActive(p) and page_count(p) == 1 for p in pages)
    assert k.lru_pvecs.lru_add == []
    extra = alloc_user_page(k)
    lru_cache_add_active(k, extra)
    lru_add_drain(k)
    assert PageActive(extra) and PageLRU(extra) and zone.nr_active == 1
    assert check_swap(k) == []


def test_head_insert_and_tail_scan_order() -> None:
    k = make_kernel()
    zone = k.pgdat.zone
    pages = [alloc_user_page(k) for _ in range(5)]
    for p in pages:
        lru_cache_add(k, p)
    lru_add_drain(k)
    # lru_cache_add puts each page at the head: the first added is at the tail.
    assert vl_lru_list(zone, False) == [p.pfn for p in reversed(pages)]
    assert vl_lru_tail(zone, False) == pages[0].pfn


def test_rotate_reclaimable_page_moves_to_the_tail() -> None:
    k = make_kernel()
    zone = k.pgdat.zone
    pages = [alloc_user_page(k) for _ in range(4)]
    for p in pages:
        lru_cache_add(k, p)
    lru_add_drain(k)
    newest = pages[-1]
    SetPageWriteback(newest)
    k.vmstat.nr_writeback += 1
    assert rotate_reclaimable_page(k, newest) == 0
    assert vl_lru_tail(zone, False) == newest.pfn
    assert not PageWriteback(newest)  # cleared by rotate_reclaimable_page itself
    assert k.vmstat.pgrotated == 1
    # Not rotated: dirty, locked, active, or off the LRU.
    SetPageDirty(pages[1])
    assert rotate_reclaimable_page(k, pages[1]) == 1
    SetPageLocked(pages[2])
    assert rotate_reclaimable_page(k, pages[2]) == 1
    activate_page(k, pages[0])
    assert rotate_reclaimable_page(k, pages[0]) == 1
    loose = alloc_user_page(k)
    assert rotate_reclaimable_page(k, loose) == 1
    assert k.vmstat.pgrotated == 1


def test_mark_page_accessed_four_states() -> None:
    k = make_kernel()
    zone = k.pgdat.zone
    p = alloc_user_page(k)
    lru_cache_add(k, p)
    lru_add_drain(k)
    states = []
    for _ in range(4):
        states.append((PageActive(p), PageReferenced(p)))
        mark_page_accessed(k, p)
    states.append((PageActive(p), PageReferenced(p)))
    assert states == [
        (False, False),  # inactive, unreferenced
        (False, True),  # -> inactive, referenced
        (True, False),  # -> active, unreferenced (activate_page)
        (True, True),  # -> active, referenced
        (True, True),  # stays
    ]
    assert zone.nr_active == 1 and zone.nr_inactive == 0
    assert k.vmstat.pgactivate == 1
    assert check_swap(k) == []


def test_mark_page_accessed_off_lru_only_references() -> None:
    k = make_kernel()
    p = alloc_user_page(k)
    lru_cache_add(k, p)  # still in the pagevec
    mark_page_accessed(k, p)
    mark_page_accessed(k, p)
    assert PageReferenced(p) and not PageActive(p) and not PageLRU(p)


def test_last_reference_takes_the_page_off_the_lru() -> None:
    k = make_kernel()
    zone = k.pgdat.zone
    free_before = zone.free_pages
    p = alloc_user_page(k)
    lru_cache_add_active(k, p)
    page_cache_release(k, p)  # the pagevec still holds it
    assert page_count(p) == 1 and zone.free_pages == free_before - 1
    lru_add_drain(k)  # __pagevec_lru_add_active releases the last reference
    assert zone.free_pages == free_before
    assert zone.nr_active == 0 and not PageLRU(p)
    assert check_swap(k) == []


def test_lru_pvecs_round_trip() -> None:
    k = make_kernel()
    for _ in range(3):
        lru_cache_add(k, alloc_user_page(k))
    lru_cache_add_active(k, alloc_user_page(k))
    s1 = save_lru_pvecs(k.lru_pvecs)
    assert save_lru_pvecs(load_lru_pvecs(s1)) == s1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 7)), min_size=1, max_size=80))
def test_lru_operations_keep_lists_consistent(ops: list[tuple[int, int]]) -> None:
    k = make_kernel()
    pages = [alloc_user_page(k) for _ in range(8)]
    added = [False] * 8
    for op, i in ops:
        p = pages[i]
        if op == 0 and not added[i]:
            lru_cache_add(k, p) if i % 2 else lru_cache_add_active(k, p)
            added[i] = True
        elif op == 1:
            mark_page_accessed(k, p)
        elif op == 2:
            lru_add_drain(k)
        elif op == 3 and PageLRU(p):
            activate_page(k, p)
        assert check_swap(k) == []
    lru_add_drain(k)
    zone = k.pgdat.zone
    assert zone.nr_active + zone.nr_inactive == sum(added)
