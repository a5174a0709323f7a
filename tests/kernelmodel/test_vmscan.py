"""Page reclaim (kernelmodel/mm/vmscan.py): shrink_list's decisions, the LRU scan order,
refill_inactive_zone's swap_tendency, direct reclaim and kswapd."""

from __future__ import annotations

from test_swap_support import (
    alloc_user_page,
    file_page,
    finish_io,
    make_anon_task,
    make_kernel,
    page_at,
    touch,
)

from kernelmodel.check.check_swap import check_swap
from kernelmodel.include.mm_inline import vl_lru_list, vl_lru_tail
from kernelmodel.include.mmzone import DEF_PRIORITY
from kernelmodel.include.page import (
    Page,
    PageActive,
    PageDirty,
    PageLocked,
    PageLRU,
    PageReclaim,
    PageSwapCache,
    PageWriteback,
    SetPageReferenced,
    SetPageWriteback,
    TestSetPageLocked,
    get_page,
    page_count,
    page_mapped,
)
from kernelmodel.include.swap import DirectReclaim, KswapdState
from kernelmodel.include.swap_generated import load_kswapd_state, save_kswapd_state
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING
from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.page_alloc import GFP_HIGHUSER, GFP_KERNEL
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import pte_present, vl_read_pte
from kernelmodel.mm.rmap import page_referenced
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.mm.vmscan import (
    KSWAPD_WAIT_KEY,
    try_to_free_pages,
    wakeup_kswapd,
)
from kernelmodel.mm.vmscan_lru import refill_inactive_zone, shrink_cache, vl_swap_tendency
from kernelmodel.mm.vmscan_pageout import shrink_list

BASE = 0x10000000


def isolate(k: Kernel, page: Page) -> None:
    """shrink_cache's isolation of one inactive page (PG_lru off, a reference taken)."""
    from kernelmodel.include.mm_inline import del_page_from_inactive_list
    from kernelmodel.include.page import TestClearPageLRU

    assert TestClearPageLRU(page)
    del_page_from_inactive_list(k.pgdat.zone, page)
    get_page(page)


def anon_pages(k: Kernel, n: int) -> tuple[list[Page], object]:
    """``n`` written anonymous pages of one task, drained onto the active list."""
    t, mm, vma = make_anon_task(k, n, BASE)
    pages = []
    for i in range(n):
        touch(k, t, mm, vma, BASE + i * 4096)
        p = page_at(k, mm, BASE + i * 4096)
        assert p is not None
        pages.append(p)
    lru_add_drain(k)
    return pages, mm


def deactivate(k: Kernel, page: Page) -> None:
    """Move an active page to the inactive head (as refill_inactive_zone would)."""
    from kernelmodel.include.mm_inline import add_page_to_inactive_list, del_page_from_active_list
    from kernelmodel.include.page import ClearPageActive

    zone = k.pgdat.zone
    del_page_from_active_list(zone, page)
    ClearPageActive(page)
    add_page_to_inactive_list(zone, page)


# ---- shrink_list's decision order -------------------------------------------------------------


def test_locked_page_is_kept_untouched() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    p = file_page(k, mapping, 0)
    lru_add_drain(k)
    isolate(k, p)
    assert not TestSetPageLocked(p)  # someone else holds the lock
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and PageLocked(p) and not PageActive(p)


def test_writeback_page_is_kept_and_unlocked() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    p = file_page(k, mapping, 0)
    lru_add_drain(k)
    isolate(k, p)
    SetPageWriteback(p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and not PageLocked(p) and not PageActive(p)


def test_referenced_page_of_a_mapped_file_is_activated() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    mapping.i_mmap_shared.append(12345)  # some vma maps the file (mapping_mapped)
    p = file_page(k, mapping, 0)
    lru_add_drain(k)
    isolate(k, p)
    SetPageReferenced(p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and PageActive(p) and not PageLocked(p)
    assert k.vmstat.pgactivate == 1


def test_referenced_page_of_an_unmapped_file_is_still_freed() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    p = file_page(k, mapping, 0)
    lru_add_drain(k)
    isolate(k, p)
    SetPageReferenced(p)  # page_mapping_inuse is false: the reference does not save it
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 1 and kept == []


def test_clean_unmapped_page_is_freed() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    p = file_page(k, mapping, 3)
    lru_add_drain(k)
    free0 = k.pgdat.zone.free_pages
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 1 and kept == []
    assert mapping.nrpages == 0 and p.mapping is None and page_count(p) == 0
    assert k.pgdat.zone.free_pages == free0 + 1
    assert check_swap(k) == []


def test_anon_page_goes_to_swap_then_pageout_with_pg_reclaim() -> None:
    k = make_kernel()
    pages, mm = anon_pages(k, 1)
    p = pages[0]
    deactivate(k, p)
    page_referenced(k, p)  # clear the young bit so that the page looks idle
    isolate(k, p)
    freed, extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and extra == 1
    assert PageSwapCache(p) and not page_mapped(p)  # add_to_swap, then try_to_unmap
    pte = vl_read_pte(k.machine.mem, mm.pgd, BASE)  # type: ignore[attr-defined]
    assert pte != 0 and not pte_present(pte)  # a swap pte
    assert PageWriteback(p) and PageReclaim(p) and not PageDirty(p) and not PageLocked(p)
    assert not PageActive(p)
    assert k.vmstat.pswpout == 1


def test_anon_page_with_swap_full_is_activated() -> None:
    k = make_kernel(swap_mb=0)
    pages, _mm = anon_pages(k, 1)
    p = pages[0]
    deactivate(k, p)
    page_referenced(k, p)
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and PageActive(p) and not PageSwapCache(p)


def test_young_mapped_page_is_activated() -> None:
    k = make_kernel()
    pages, _mm = anon_pages(k, 1)
    p = pages[0]
    deactivate(k, p)
    isolate(k, p)  # the pte is still young from the fault
    freed, _extra, _kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and PageActive(p) and not PageSwapCache(p)


def test_dirty_file_page_is_written_with_pg_reclaim_then_freed() -> None:
    from kernelmodel.check.check import check_invariants
    from kernelmodel.fs.fs import get_block, vl_create_file
    from kernelmodel.mm.page_writeback import set_page_dirty

    k = make_kernel()
    inode = vl_create_file(k, "data", 4 * 4096, "pattern", 3)
    mapping = inode.i_mapping
    p = file_page(k, mapping, 1)
    block = get_block(k, inode, 1, 0)
    disk = k.machine.disk
    k.machine.mem.write(p.pfn << 12, disk.read_sectors(block * 8, 8))
    lru_add_drain(k)
    assert set_page_dirty(k, p) == 1 and k.vmstat.nr_dirty == 1
    assert check_invariants(k) == []
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p]
    assert PageWriteback(p) and PageReclaim(p) and not PageDirty(p) and not PageLocked(p)
    from kernelmodel.include.mm_inline import add_page_to_inactive_list
    from kernelmodel.include.page import TestSetPageLRU

    assert not TestSetPageLRU(p)  # shrink_cache's put-back
    add_page_to_inactive_list(k.pgdat.zone, p)
    page_cache_release(k, p)
    assert check_invariants(k) == []
    finish_io(k)
    assert k.vmstat.pgrotated == 1 and not PageReclaim(p) and not PageWriteback(p)
    assert vl_lru_tail(k.pgdat.zone, False) == p.pfn
    freed, _scanned = shrink_cache(k, k.pgdat.zone, GFP_KERNEL, 32, False)
    assert freed == 1 and mapping.nrpages == 0
    assert check_invariants(k) == []


# ---- shrink_cache: order, put-back, rotation, the second pass ---------------------------------


def test_shrink_cache_scans_from_the_tail_in_batches() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    pages = [file_page(k, mapping, i) for i in range(40)]
    lru_add_drain(k)
    zone = k.pgdat.zone
    assert vl_lru_tail(zone, False) == pages[0].pfn
    freed, scanned = shrink_cache(k, zone, GFP_KERNEL, 32, False)
    # One batch of SWAP_CLUSTER_MAX from the tail: the 32 oldest pages go.
    assert freed == 32 and scanned == 32
    assert k.vmstat.pgscan == 33  # the kernel's nr_scan counts one more than it looked at
    assert vl_lru_list(zone, False) == [p.pfn for p in reversed(pages[32:])]
    assert k.vmstat.pgsteal == 32
    assert check_swap(k) == []


def test_survivors_go_back_and_written_pages_rotate_then_free() -> None:
    k = make_kernel()
    pages, mm = anon_pages(k, 4)
    for p in pages:
        deactivate(k, p)
        page_referenced(k, p)
    zone = k.pgdat.zone
    freed, _scanned = shrink_cache(k, zone, GFP_KERNEL, 32, False)
    assert freed == 0
    assert all(PageLRU(p) and not PageActive(p) and PageWriteback(p) for p in pages)
    assert check_swap(k) == []
    finish_io(k)  # end_page_writeback -> rotate_reclaimable_page: to the inactive tail
    assert k.vmstat.pgrotated == 4
    assert not any(PageWriteback(p) or PageReclaim(p) for p in pages)
    assert check_swap(k) == []
    free0 = zone.free_pages
    freed, _scanned = shrink_cache(k, zone, GFP_KERNEL, 32, False)
    assert freed == 4 and zone.free_pages == free0 + 4
    assert k.swapper_space.nrpages == 0
    assert mm.rss == 0  # type: ignore[attr-defined]
    assert check_swap(k) == []  # every slot is now held by its swap pte alone


# ---- refill_inactive_zone ---------------------------------------------------------------------


def test_swap_tendency_formula() -> None:
    k = make_kernel(swappiness=60)
    zone = k.pgdat.zone
    total = k.kswapd.total_memory
    k.vmstat.nr_mapped = total // 2  # mapped_ratio 50
    zone.prev_priority = 12  # distress 0
    assert vl_swap_tendency(k, zone) == 25 + 0 + 60
    zone.prev_priority = 2  # distress 25
    assert vl_swap_tendency(k, zone) == 25 + 25 + 60
    zone.prev_priority = 0  # distress 100
    assert vl_swap_tendency(k, zone) >= 100


def test_refill_keeps_mapped_pages_below_the_threshold() -> None:
    k = make_kernel(swappiness=0)
    pages, _mm = anon_pages(k, 6)
    mapping = AddressSpace(0)
    files = [file_page(k, mapping, i) for i in range(4)]
    lru_add_drain(k)
    for f in files:
        from kernelmodel.mm.swap import activate_page

        activate_page(k, f)
    zone = k.pgdat.zone
    zone.prev_priority = 12
    assert vl_swap_tendency(k, zone) < 100
    refill_inactive_zone(k, zone, 10)
    assert all(PageActive(p) for p in pages)  # mapped: not reclaim_mapped
    assert not any(PageActive(f) for f in files)  # unmapped pages always go inactive
    assert k.vmstat.pgrefill == 10 and k.vmstat.pgdeactivate == 4
    assert check_swap(k) == []


def test_refill_moves_unreferenced_mapped_pages_at_the_threshold() -> None:
    k = make_kernel(swappiness=100)
    pages, _mm = anon_pages(k, 6)
    zone = k.pgdat.zone
    assert vl_swap_tendency(k, zone) >= 100
    refill_inactive_zone(k, zone, 6)
    # Fresh faults left the ptes young: page_referenced sends them back to the active list.
    assert all(PageActive(p) for p in pages)
    refill_inactive_zone(k, zone, 6)  # the young bits were cleared by the first pass
    assert not any(PageActive(p) for p in pages)
    assert k.vmstat.pgdeactivate == 6
    assert check_swap(k) == []


def test_refill_keeps_anon_pages_active_without_swap() -> None:
    k = make_kernel(swappiness=100, swap_mb=0)
    pages, _mm = anon_pages(k, 4)
    zone = k.pgdat.zone
    refill_inactive_zone(k, zone, 4)
    refill_inactive_zone(k, zone, 4)
    assert all(PageActive(p) for p in pages)


# ---- direct reclaim and kswapd ----------------------------------------------------------------


def fill_with_clean_cache(k: Kernel, mapping: AddressSpace) -> list[Page]:
    """Page-cache pages until the zone is just above pages_min."""
    zone = k.pgdat.zone
    pages = []
    i = 0
    while zone.free_pages > zone.pages_min + 2:
        pages.append(file_page(k, mapping, i))
        i += 1
    lru_add_drain(k)
    return pages


def test_try_to_free_pages_reclaims_a_cluster() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    fill_with_clean_cache(k, mapping)
    zone = k.pgdat.zone
    free0 = zone.free_pages
    freed = try_to_free_pages(k, GFP_KERNEL)
    assert freed >= 32 and zone.free_pages == free0 + freed
    assert zone.prev_priority < 12 or freed >= 32
    assert k.vmstat.oom_kill == 0
    assert check_swap(k) == []


def fill_to_pages_low(k: Kernel, mapping: AddressSpace) -> list[Page]:
    zone = k.pgdat.zone
    pages = []
    i = 0
    while zone.free_pages > zone.pages_low:
        pages.append(file_page(k, mapping, i))
        i += 1
    lru_add_drain(k)
    return pages


def test_allocation_below_pages_low_wakes_kswapd() -> None:
    k = make_kernel()
    kswapd = k.tasks[k.kswapd.pid]
    k.machine.run_until(1_000_000, 100)  # kswapd's first slice: it goes to sleep
    assert kswapd.wait_key == KSWAPD_WAIT_KEY
    fill_to_pages_low(k, AddressSpace(0))
    assert k.vmstat.kswapd_wakeups == 0
    p = vl_alloc_page(k, GFP_HIGHUSER)  # __alloc_pages: wakeup_kswapd, then direct reclaim
    assert p is not None
    assert k.vmstat.kswapd_wakeups == 1 and kswapd.state == TASK_RUNNING
    assert k.vmstat.allocstall == 1 and k.vmstat.pgsteal >= 32


def test_kswapd_balances_the_zone_to_pages_high() -> None:
    k = make_kernel()
    kswapd = k.tasks[k.kswapd.pid]
    k.machine.run_until(1_000_000, 100)
    zone = k.pgdat.zone
    wakeup_kswapd(k)  # above pages_low: nothing happens
    assert k.vmstat.kswapd_wakeups == 0
    fill_to_pages_low(k, AddressSpace(0))
    wakeup_kswapd(k)
    assert k.vmstat.kswapd_wakeups == 1 and kswapd.state == TASK_RUNNING
    k.machine.run_until(k.now() + 2_000_000_000, 100_000)
    assert zone.free_pages > zone.pages_high
    assert k.vmstat.pageoutrun == 1 and k.vmstat.kswapd_steal > 0
    assert k.vmstat.allocstall == 0  # no direct reclaim: kswapd did the work
    assert kswapd.wait_key == KSWAPD_WAIT_KEY  # asleep again
    assert check_swap(k) == []


def test_kswapd_state_round_trips() -> None:
    ks = KswapdState()
    ks.pid = 3
    ks.total_memory = 900
    ks.direct[7] = DirectReclaim(7, 8, 12, 300, True, 123456)
    assert save_kswapd_state(load_kswapd_state(save_kswapd_state(ks))) == save_kswapd_state(ks)


def test_direct_reclaim_resumes_after_its_nap() -> None:
    k = make_kernel(swappiness=100)  # reclaim_mapped from the start
    pages, _mm = anon_pages(k, 200)  # mapped pages: the first passes cannot free anything
    for p in pages:
        page_referenced(k, p)
    k.current = 42
    try_to_free_pages(k, GFP_KERNEL)
    st = k.kswapd.direct.get(42)
    assert st is not None and st.priority < DEF_PRIORITY - 2  # stopped at blk_congestion_wait
    first = st.priority
    try_to_free_pages(k, GFP_KERNEL)  # the retry after the caller's sleep continues
    st2 = k.kswapd.direct.get(42)
    assert st2 is None or st2.priority < first
    k.current = -1
    assert check_swap(k) == []


def test_unlocked_and_locked_paths_leave_no_stray_lock() -> None:
    k = make_kernel()
    mapping = AddressSpace(0)
    pages = [file_page(k, mapping, i) for i in range(8)]
    lru_add_drain(k)
    for p in pages[:4]:
        SetPageReferenced(p)
    held = pages[5]
    assert not TestSetPageLocked(held)
    shrink_cache(k, k.pgdat.zone, GFP_KERNEL, 32, False)
    assert PageLocked(held)
    unlock_page(k, held)
    assert not any(PageLocked(p) for p in pages)
    assert check_swap(k) == []
    alloc_user_page(k)
