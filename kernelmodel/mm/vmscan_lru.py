"""Page reclaim's LRU scan: shrink_cache and refill_inactive_zone (mm/vmscan.c, 2.6.6; 2.6.5's
differences on the 2.6.5 profile, see ``vl_reclaim_2_6_5``).

* ``shrink_cache`` isolates batches of up to SWAP_CLUSTER_MAX pages from the inactive tail,
  hands them to ``shrink_list`` (vmscan_pageout.py) and puts the survivors back on the list
  PG_active names;
* ``refill_inactive_zone`` deactivates active pages; mapped pages move only when
  ``swap_tendency = mapped_ratio / 2 + distress + vm_swappiness`` reaches 100, and then only
  if unreferenced; unmapped pages always move; anonymous pages stay active without swap.

shrink_zone (vmscan.py) spends its scan credit on them; 2.6.7's reclaim (vmscan_267.py) shares
the isolation and put-back helpers. Simulated CPU cost: REFILL_PAGE_NS per page
refill_inactive_zone moves.

Invariants:
    * every page isolated by shrink_cache or refill_inactive_zone is back on an LRU list, or
      freed, before the function returns (the isolation reference is always dropped).

Lock ordering (documented, not taken): zone->lru_lock (isolation and put-back only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_inline import (
    add_page_to_active_list,
    add_page_to_inactive_list,
    del_page_from_active_list,
    del_page_from_inactive_list,
    vl_lru_tail,
)
from kernelmodel.include.page import (
    PageActive,
    PageAnon,
    SetPageLRU,
    TestClearPageActive,
    TestClearPageLRU,
    TestSetPageLRU,
    get_page,
    page_count,
    page_mapped,
)
from kernelmodel.include.vmstat import (
    REFILL_DEACTIVATED,
    REFILL_FATE_NAMES,
    REFILL_KEPT_ACTIVE,
    TR_RECLAIM,
    TR_REFILL_PAGE,
)
from kernelmodel.kernel.task import cond_resched, vl_host_pause
from kernelmodel.mm.swap import lru_add_drain, release_pages
from kernelmodel.mm.vmscan_pageout import (
    SWAP_CLUSTER_MAX,
    current_is_kswapd,
    shrink_list,
    vl_reclaim_2_6_5,
)

if TYPE_CHECKING:
    from kernelmodel.include.mmzone import Zone
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

#: Simulated CPU per page moved by refill_inactive_zone.
REFILL_PAGE_NS: Final = 100


# ---- shrink_cache and refill_inactive_zone -------------------------------------------------------


def _isolate_inactive(k: Kernel, zone: Zone, page_list: list[Page]) -> int:
    """shrink_cache's isolation loop: up to SWAP_CLUSTER_MAX pages from the inactive tail.

    Pages with a zero count (being freed) go back to the head. Returns ``nr_scan`` as the C
    loop leaves it (``while (nr_scan++ < SWAP_CLUSTER_MAX && ...)``: one more than the pages
    looked at).
    """
    pages = k.mem_map.pages
    looked = 0
    while looked < SWAP_CLUSTER_MAX:
        pfn = vl_lru_tail(zone, False)
        if pfn < 0:
            break
        looked += 1
        page = pages[pfn]
        bug_on(not TestClearPageLRU(page), "shrink_cache: inactive page without PG_lru")
        del_page_from_inactive_list(zone, page)
        if page_count(page) == 0:
            SetPageLRU(page)
            add_page_to_inactive_list(zone, page)
            continue
        get_page(page)
        page_list.append(page)
    if not vl_reclaim_2_6_5(k):
        zone.pages_scanned += len(page_list)  # 2.6.5 never counts it (vl_reclaim_2_6_5)
    return looked + 1


def _putback_lru(k: Kernel, zone: Zone, pages: list[Page]) -> None:
    """shrink_cache's put-back: each survivor to the head of the list PG_active names, then
    the isolation reference is dropped (a page whose count reaches zero leaves the LRU)."""
    for page in pages:
        bug_on(TestSetPageLRU(page), "shrink_cache: survivor already has PG_lru")
        if PageActive(page):
            add_page_to_active_list(zone, page)
        else:
            add_page_to_inactive_list(zone, page)
    release_pages(k, pages)


def shrink_cache(
    k: Kernel, zone: Zone, gfp_mask: int, max_scan: int, do_writepage: bool
) -> tuple[int, int]:
    """shrink_cache(): scan about ``max_scan`` pages from the inactive tail in batches of 32.

    Returns:
        (pages freed, pages scanned: the batches' sizes plus shrink_list's extra weight).
    """
    lru_add_drain(k)
    kswapd = current_is_kswapd(k)
    ret = 0
    total_scanned = 0
    while max_scan > 0:
        page_list: list[Page] = []
        nr_scan = _isolate_inactive(k, zone, page_list)
        nr_taken = len(page_list)
        if nr_taken == 0:
            break
        max_scan -= nr_scan
        k.vmstat.pgscan += nr_scan
        nr_freed, extra, kept = shrink_list(k, page_list, gfp_mask, do_writepage)
        total_scanned += nr_taken + extra
        if kswapd:
            k.vmstat.kswapd_steal += nr_freed
        k.vmstat.pgsteal += nr_freed
        ret += nr_freed
        k.trace.emit(k.now(), TR_RECLAIM, k.current, nr_scan, nr_freed, "shrink_cache")
        if nr_freed <= 0 and not kept:
            break
        _putback_lru(k, zone, kept)
    return (ret, total_scanned)


def _isolate_active(zone: Zone, k: Kernel, nr_pages: int, l_hold: list[Page]) -> int:
    """refill_inactive_zone's isolation of up to ``nr_pages`` from the active tail.

    PG_active stays set on the isolated pages. Returns the pages looked at.
    """
    pages = k.mem_map.pages
    looked = 0
    while looked < nr_pages:
        vl_host_pause(k)  # 2.6.6 takes them all under lru_lock: a host point, not the C's
        pfn = vl_lru_tail(zone, True)
        if pfn < 0:
            break
        looked += 1
        page = pages[pfn]
        bug_on(not TestClearPageLRU(page), "refill_inactive_zone: active page without PG_lru")
        del_page_from_active_list(zone, page)
        if page_count(page) == 0:
            SetPageLRU(page)
            add_page_to_active_list(zone, page)
        else:
            get_page(page)
            l_hold.append(page)
    return looked


def vl_swap_tendency(k: Kernel, zone: Zone) -> int:
    """refill_inactive_zone's ``swap_tendency = mapped_ratio / 2 + distress + vm_swappiness``.

    ``distress = 100 >> prev_priority``; ``mapped_ratio = nr_mapped * 100 / total_memory``.
    Mapped pages are deactivated only when this reaches 100.
    """
    total = k.kswapd.total_memory
    if total <= 0:
        total = max(zone.present_pages - zone.pages_high, 1)
    distress = 100 >> zone.prev_priority
    mapped_ratio = (k.vmstat.nr_mapped * 100) // total
    return mapped_ratio // 2 + distress + k.cfg.swappiness


def vl_refill_why(k: Kernel, page: Page, reclaim_mapped: bool,
                  no_swap: bool) -> tuple[int, str]:
    """Where refill_inactive_zone (2.6.5-2.6.7) sends an isolated active page, and why:
    REFILL_DEACTIVATED when "not mapped" or "mapped, not referenced"; REFILL_KEPT_ACTIVE when
    "mapped" (the swap tendency is under 100, so mapped pages stay), "referenced" or "anon,
    no swap". page_referenced() (which clears the young bits) is asked exactly when the
    kernel asks it: for a mapped page while reclaim_mapped."""
    from kernelmodel.mm.rmap import page_referenced

    mapped = page_mapped(page)
    if mapped and not reclaim_mapped:
        return REFILL_KEPT_ACTIVE, "mapped"
    if mapped and page_referenced(k, page) > 0:
        return REFILL_KEPT_ACTIVE, "referenced"
    if no_swap and PageAnon(page):
        return REFILL_KEPT_ACTIVE, "anon, no swap"
    return REFILL_DEACTIVATED, "mapped, not referenced" if mapped else "not mapped"


def vl_trace_refill(k: Kernel, page: Page, fate: int, why: str) -> None:
    """The ``refill_page`` record of refill_inactive_zone's decision on one page, written
    once the page is back on its list: a is the frame, b the decision (REFILL_DEACTIVATED,
    REFILL_KEPT_ACTIVE), s the decision and why."""
    k.trace.emit(k.now(), TR_REFILL_PAGE, k.current, page.pfn, fate,
                 f"{REFILL_FATE_NAMES[fate]}: {why}")


def refill_inactive_zone(k: Kernel, zone: Zone, nr_pages_in: int) -> None:
    """refill_inactive_zone(): move up to ``nr_pages_in`` pages from the active tail.

    Unmapped pages always go to the inactive head; mapped pages only when reclaim_mapped
    (swap_tendency >= 100) and not referenced; anonymous pages stay active without swap.
    Counts pgrefill (pages looked at) and pgdeactivate. Writes a ``refill_page`` record per
    page put back (vl_trace_refill).
    """
    lru_add_drain(k)
    l_hold: list[Page] = []
    looked = _isolate_active(zone, k, nr_pages_in, l_hold)
    k.charge(len(l_hold) * REFILL_PAGE_NS)
    reclaim_mapped = vl_swap_tendency(k, zone) >= 100
    no_swap = k.swap.total_swap_pages == 0
    l_inactive: list[Page] = []
    l_active: list[Page] = []
    # why each page went where, in the order of its list (a list, not a dict by pfn: a dict
    # of 130,000 pages stops for milliseconds to grow, between two pause points)
    why_inactive: list[str] = []
    why_active: list[str] = []
    for page in l_hold:
        cond_resched(k)
        fate, why = vl_refill_why(k, page, reclaim_mapped, no_swap)
        if fate == REFILL_DEACTIVATED:
            l_inactive.append(page)
            why_inactive.append(why)
        else:
            l_active.append(page)
            why_active.append(why)
    for i, page in enumerate(l_inactive):
        vl_host_pause(k)
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not TestClearPageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_inactive_list(zone, page)
        vl_trace_refill(k, page, REFILL_DEACTIVATED, why_inactive[i])
    for i, page in enumerate(l_active):
        vl_host_pause(k)
        bug_on(TestSetPageLRU(page), "refill_inactive_zone: PageLRU")
        bug_on(not PageActive(page), "refill_inactive_zone: !PageActive")
        add_page_to_active_list(zone, page)
        vl_trace_refill(k, page, REFILL_KEPT_ACTIVE, why_active[i])
    release_pages(k, l_inactive)
    release_pages(k, l_active)
    k.vmstat.pgrefill += looked
    k.vmstat.pgdeactivate += len(l_inactive)
