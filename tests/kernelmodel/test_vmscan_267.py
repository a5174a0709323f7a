"""2.6.7's reclaim (kernelmodel/mm/vmscan_267.py) against 2.6.6's (vmscan.py): what the rewrite
changed, each shown on the same kernel state under both designs."""

from __future__ import annotations

import pytest
from test_swap_support import file_page, make_anon_task, make_kernel, page_at, touch

from kernelmodel.check.check_swap import check_swap
from kernelmodel.include.mmzone import DEF_PRIORITY
from kernelmodel.include.page import Page, PageActive, PageDirty, PageSwapCache, PageWriteback
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED
from kernelmodel.mm import vmscan_267
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.page_alloc import GFP_KERNEL
from kernelmodel.mm.page_writeback import NR_CONGESTION_ON, bdi_write_congested
from kernelmodel.mm.swap import lru_add_drain, mark_page_accessed
from kernelmodel.mm.swap_state import add_to_swap
from kernelmodel.mm.vmscan import (
    KSWAPD_BALANCE,
    KSWAPD_SLEEP,
    KSWAPD_WOKEN,
    KswapdOp,
    shrink_zone,
    try_to_free_pages,
)
from kernelmodel.mm.vmscan_267 import (
    PAGE_KEEP,
    PAGE_SUCCESS,
    ScanControl,
    pageout,
    vl_scan_counts,
)

BASE = 0x10000000


def _cache(k: Kernel, n: int, active: int) -> list[Page]:
    """``n`` clean page-cache pages, the first ``active`` of them activated by two accesses."""
    mapping = AddressSpace(0)
    pages = [file_page(k, mapping, i) for i in range(n)]
    lru_add_drain(k)
    for p in pages[:active]:
        mark_page_accessed(k, p)
        mark_page_accessed(k, p)
    lru_add_drain(k)
    assert sum(1 for p in pages if PageActive(p)) == active
    return pages


def _mapped_anon(k: Kernel, n: int) -> list[Page]:
    """``n`` written anonymous pages of one task, on the active list."""
    t, mm, vma = make_anon_task(k, n, BASE)
    pages = []
    for i in range(n):
        touch(k, t, mm, vma, BASE + i * 4096)
        p = page_at(k, mm, BASE + i * 4096)
        assert p is not None
        pages.append(p)
    lru_add_drain(k)
    return pages


def test_scan_counts_follow_the_whole_lru_and_cap_the_active_scan() -> None:
    zone = make_kernel().pgdat.zone
    saved = (zone.nr_active, zone.nr_inactive)
    try:
        zone.nr_active, zone.nr_inactive = 600, 400
        # (600 + 400) >> 2 inactive; active in proportion: 250 * 600 / 801
        assert vl_scan_counts(zone, 2) == (187, 250)
        zone.nr_active, zone.nr_inactive = 4000, 100
        # the active list is over 4 x (2 x 100 + 1): at most 4x the inactive scan
        assert vl_scan_counts(zone, 3) == (4 * (4100 >> 3), 4100 >> 3)
        assert vl_scan_counts(zone, DEF_PRIORITY) == (4, 1)
    finally:
        zone.nr_active, zone.nr_inactive = saved


def test_shrink_zone_scans_the_lru_share_not_the_inactive_share() -> None:
    """192 active and 64 inactive clean cache pages, one shrink_zone at priority 0."""
    old = make_kernel(vmscan="2.6.6")
    _cache(old, 256, 192)
    zone = old.pgdat.zone
    freed, _ = shrink_zone(old, zone, zone.nr_inactive >> 0, GFP_KERNEL, False)
    # 2.6.6: nr_inactive >> 0 = 64 inactive pages; 32 * 192 / 130 + 1 = 48 active ones
    assert (old.vmstat.pgrefill, old.vmstat.pgdeactivate, freed) == (48, 48, 64)

    new = make_kernel(vmscan="2.6.7")
    _cache(new, 256, 192)
    zone = new.pgdat.zone
    sc = ScanControl(GFP_KERNEL, 0, new.vmstat.nr_mapped, False)
    vmscan_267.shrink_zone(new, zone, sc)
    # 2.6.7: (192 + 64) >> 0 = 256 inactive pages, 256 * 192 / 129 + 1 active: the whole LRU
    assert (new.vmstat.pgrefill, new.vmstat.pgdeactivate) == (192, 192)
    assert sc.nr_reclaimed == 256 == new.vmstat.pgsteal
    assert sc.nr_scanned == 256  # each page past the lock and writeback tests, once
    assert zone.nr_active == zone.nr_inactive == 0
    assert check_swap(new) == []


@pytest.mark.parametrize(("vmscan", "deactivated", "prev"), [("2.6.6", False, DEF_PRIORITY),
                                                              ("2.6.7", True, 0)])
def test_prev_priority_falls_while_reclaiming(vmscan: str, deactivated: bool, prev: int) -> None:
    """With swappiness 0 only distress (100 >> prev_priority) can make mapped pages
    inactive. 2.6.6 sets prev_priority when a reclaim call ends, so a first call never
    deactivates them; 2.6.7 lowers it pass by pass, and at priority 0 distress is 100."""
    from kernelmodel.mm.rmap import page_referenced

    k = make_kernel(swappiness=0, vmscan=vmscan)
    pages = _mapped_anon(k, 200)
    for p in pages:
        page_referenced(k, p)  # the faults' accessed bits: old from here on
    zone = k.pgdat.zone
    assert zone.prev_priority == DEF_PRIORITY and zone.nr_inactive == 0
    k.current = 42
    try_to_free_pages(k, GFP_KERNEL)
    k.current = -1
    assert (k.vmstat.pgdeactivate > 0) == deactivated
    assert (k.vmstat.nr_vmscan_write > 0) == deactivated
    assert any(PageSwapCache(p) for p in pages) == deactivated
    # taken from temp_priority when the call ends; 2.6.6 records a priority in temp_priority
    # only while the zone is below pages_high (it is not, here), 2.6.7 always
    assert zone.prev_priority == prev
    assert check_swap(k) == []


def _congest(k: Kernel) -> None:
    """Fill the disk's queue with reads far apart (nothing merges) until it is congested."""
    disk = k.machine.disk
    sector = 0
    while disk.queue_depth < NR_CONGESTION_ON:
        disk.submit(sector, 8, False, b"", 0)
        sector += 64
    assert sector < disk.nsectors // 2  # the file system's half of the disk, not swap
    assert bdi_write_congested(k)


def test_pageout_writes_swap_pages_whatever_the_queue_says() -> None:
    """swapper_space's backing_dev_info is never congested; a file page's queue is."""
    k = make_kernel(vmscan="2.6.7")
    anon = _mapped_anon(k, 1)[0]
    cached = _cache(k, 1, 0)[0]
    from kernelmodel.include.page import SetPageDirty, TestSetPageLocked, get_page
    from kernelmodel.mm.rmap import SWAP_SUCCESS, page_referenced, try_to_unmap

    page_referenced(k, anon)  # an old pte: try_to_unmap takes it
    for p in (anon, cached):
        get_page(p)  # shrink_cache's isolation reference
    assert not TestSetPageLocked(anon) and not TestSetPageLocked(cached)
    assert add_to_swap(k, anon)
    assert try_to_unmap(k, anon) == SWAP_SUCCESS
    SetPageDirty(cached)
    _congest(k)
    k.current = 42  # a direct reclaimer: neither kswapd nor pdflush
    sc = ScanControl(GFP_KERNEL, 0, 0, False)
    assert pageout(k, cached, cached.mapping, False, sc) == PAGE_KEEP  # type: ignore[arg-type]
    assert PageDirty(cached)
    assert pageout(k, anon, None, True, sc) == PAGE_SUCCESS
    assert PageWriteback(anon) and k.vmstat.nr_vmscan_write == 1
    k.current = -1


def _balance(k: Kernel) -> list[int]:
    """Run one balance_pgdat through KswapdOp without dispatching events (no write ends);
    returns the op's step results."""
    task = k.tasks[k.kswapd.pid]
    op = KswapdOp()
    op.phase = KSWAPD_WOKEN
    k.current = task.pid
    results = []
    while True:
        results.append(op.step(k, task))
        if op.phase == KSWAPD_SLEEP or results[-1] == KOP_BLOCKED:
            break
        assert op.phase == KSWAPD_BALANCE and len(results) < 40
    k.current = -1
    return results


def _fill_with_anon(k: Kernel) -> None:
    """Anonymous pages until the zone is just below pages_low (kswapd's wakeup point)."""
    zone = k.pgdat.zone
    t, mm, vma = make_anon_task(k, zone.free_pages, BASE)
    addr = BASE
    while zone.free_pages > zone.pages_low:
        touch(k, t, mm, vma, addr)
        addr += 4096
    lru_add_drain(k)


def test_kswapd_naps_in_2_6_6_but_runs_every_priority_in_2_6_7() -> None:
    """balance_pgdat's nap needs total_scanned, which 2.6.7 never adds to."""
    old = make_kernel(swappiness=100, vmscan="2.6.6")
    _fill_with_anon(old)
    steps = _balance(old)
    # once something was scanned, blk_congestion_wait below priority 10, long before 0
    assert steps[-1] == KOP_BLOCKED
    assert 0 < old.pgdat.zone.temp_priority < DEF_PRIORITY - 2

    new = make_kernel(swappiness=100, vmscan="2.6.7")
    _fill_with_anon(new)
    steps = _balance(new)
    assert KOP_BLOCKED not in steps
    assert new.pgdat.zone.temp_priority == 0  # priorities 12 .. 0, no nap
    assert new.vmstat.pageoutrun == 1 and new.vmstat.nr_vmscan_write > 0
    assert check_swap(new) == []
