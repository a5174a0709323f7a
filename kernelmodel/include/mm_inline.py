"""The zone LRU list helpers (include/linux/mm_inline.h, 2.6.6) and their walkers.

``add_page_to_active_list`` and its siblings link a page on its zone's active or inactive list
(``kernelmodel.include.mmzone``: the lists are the zone's link arrays); the ``vl_lru_*``
walkers and ``vl_check_lru`` read those lists for reclaim, the UI and the invariant checker.

Invariants:
    * PG_lru is set exactly on the pages linked on active_list or inactive_list; PG_active
      exactly on those of active_list; ``page.lru`` names the list; ``nr_active`` and
      ``nr_inactive`` are the list lengths.
"""

from __future__ import annotations

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mmzone import (
    Zone,
    vl_list_add,
    vl_list_add_tail,
    vl_list_del,
    vl_list_pfns,
)
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    LRU_NONE,
    ClearPageActive,
    M_active,
    M_lru,
    MemMap,
    Page,
    PageActive,
)


def _node(zone: Zone, page: Page) -> int:
    """The page's node in the zone's arrays (bad_range() is a BUG)."""
    node = page.pfn - zone.zone_start_pfn
    bug_on(node < 0 or node >= zone.spanned_pages, "bad_range: page outside zone")
    return node


# ---- LRU lists (include/linux/mm_inline.h) ----------------------------------------------------


def add_page_to_active_list(zone: Zone, page: Page) -> None:
    """add_page_to_active_list(): put ``page`` at the head of the active list.

    Caller: holds zone.lru_lock; has set PG_lru and PG_active.
    """
    bug_on(page.lru != LRU_NONE, "add_page_to_active_list: page already on an LRU list")
    vl_list_add(zone, _node(zone, page), zone.active_list)
    page.lru = LRU_ACTIVE
    zone.nr_active += 1


def add_page_to_inactive_list(zone: Zone, page: Page) -> None:
    """add_page_to_inactive_list(): put ``page`` at the head of the inactive list.

    Caller: holds zone.lru_lock; has set PG_lru and cleared PG_active.
    """
    bug_on(page.lru != LRU_NONE, "add_page_to_inactive_list: page already on an LRU list")
    vl_list_add(zone, _node(zone, page), zone.inactive_list)
    page.lru = LRU_INACTIVE
    zone.nr_inactive += 1


def del_page_from_active_list(zone: Zone, page: Page) -> None:
    """del_page_from_active_list(): unlink ``page`` from the active list.

    Caller: holds zone.lru_lock; the page is on the active list (PG_lru is the caller's).
    """
    bug_on(page.lru != LRU_ACTIVE, "del_page_from_active_list: page not on active list")
    vl_list_del(zone, _node(zone, page))
    page.lru = LRU_NONE
    zone.nr_active -= 1


def del_page_from_inactive_list(zone: Zone, page: Page) -> None:
    """del_page_from_inactive_list(): unlink ``page`` from the inactive list.

    Caller: holds zone.lru_lock; the page is on the inactive list.
    """
    bug_on(page.lru != LRU_INACTIVE, "del_page_from_inactive_list: page not on inactive list")
    vl_list_del(zone, _node(zone, page))
    page.lru = LRU_NONE
    zone.nr_inactive -= 1


def del_page_from_lru(zone: Zone, page: Page) -> None:
    """del_page_from_lru(): unlink ``page`` from whichever list PG_active names.

    Clears PG_active, as 2.6.6 does (PG_lru is the caller's).

    Caller: holds zone.lru_lock; the page is on an LRU list.
    """
    if PageActive(page):
        bug_on(page.lru != LRU_ACTIVE, "del_page_from_lru: PG_active page not on active list")
        vl_list_del(zone, _node(zone, page))
        ClearPageActive(page)
        zone.nr_active -= 1
    else:
        bug_on(page.lru != LRU_INACTIVE, "del_page_from_lru: page not on inactive list")
        vl_list_del(zone, _node(zone, page))
        zone.nr_inactive -= 1
    page.lru = LRU_NONE


def vl_lru_move_tail(zone: Zone, page: Page) -> None:
    """list_del + list_add_tail on the page's own LRU list (rotate_reclaimable_page's move).

    Caller: holds zone.lru_lock; the page is on an LRU list.
    """
    bug_on(page.lru == LRU_NONE, "vl_lru_move_tail: page not on an LRU list")
    node = _node(zone, page)
    vl_list_del(zone, node)
    vl_list_add_tail(zone, node, zone.active_list if page.lru == LRU_ACTIVE else zone.inactive_list)


def _lru_head(zone: Zone, active: bool) -> int:
    return zone.active_list if active else zone.inactive_list


def vl_lru_tail(zone: Zone, active: bool) -> int:
    """pfn of the page at the tail of a list (lru_to_page(list)), or -1 if it is empty."""
    head = _lru_head(zone, active)
    node = zone.lru_prev[head]
    return -1 if node == head else zone.zone_start_pfn + node


def vl_lru_head(zone: Zone, active: bool) -> int:
    """pfn of the page at the head of a list (the newest), or -1 if it is empty."""
    head = _lru_head(zone, active)
    node = zone.lru_next[head]
    return -1 if node == head else zone.zone_start_pfn + node


def vl_lru_prev(zone: Zone, pfn: int) -> int:
    """pfn of the page before ``pfn`` on its list (towards the head), or -1 at the head.

    Caller: the page at ``pfn`` is on a list.
    """
    node = zone.lru_prev[pfn - zone.zone_start_pfn]
    bug_on(node < 0, "vl_lru_prev: page not on a list")
    return -1 if node >= zone.spanned_pages else zone.zone_start_pfn + node


def vl_lru_next(zone: Zone, pfn: int) -> int:
    """pfn of the page after ``pfn`` on its list (towards the tail), or -1 at the tail.

    Caller: the page at ``pfn`` is on a list.
    """
    node = zone.lru_next[pfn - zone.zone_start_pfn]
    bug_on(node < 0, "vl_lru_next: page not on a list")
    return -1 if node >= zone.spanned_pages else zone.zone_start_pfn + node


def vl_lru_list(zone: Zone, active: bool) -> list[int]:
    """The pfns of the active or inactive list, head (newest) to tail (next to scan)."""
    return vl_list_pfns(zone, _lru_head(zone, active))


def vl_check_lru(zone: Zone, mem_map: MemMap) -> None:
    """Check the LRU lists: links, lengths, PG_lru/PG_active and ``page.lru`` agree.

    Raises:
        KernelBug: naming the first broken invariant.
    """
    on_list = 0
    for active in (True, False):
        head = _lru_head(zone, active)
        pfns = vl_lru_list(zone, active)
        name = "active" if active else "inactive"
        want = zone.nr_active if active else zone.nr_inactive
        bug_on(len(pfns) != want, f"zone {zone.name}: nr_{name} != {name}_list length")
        prev = head
        for pfn in pfns:
            node = pfn - zone.zone_start_pfn
            bug_on(zone.lru_prev[node] != prev, f"{name}_list: broken prev link at {pfn:#x}")
            page = mem_map.pages[pfn]
            bug_on(not (page.flags & M_lru), f"{name}_list: page {pfn:#x} without PG_lru")
            bug_on(
                bool(page.flags & M_active) != active,
                f"{name}_list: page {pfn:#x} PG_active disagrees",
            )
            bug_on(
                page.lru != (LRU_ACTIVE if active else LRU_INACTIVE),
                f"{name}_list: page {pfn:#x} page.lru disagrees",
            )
            prev = node
        bug_on(zone.lru_prev[head] != prev, f"{name}_list: broken tail link")
        on_list += len(pfns)
    flagged = 0
    for pfn in range(zone.zone_start_pfn, zone.zone_start_pfn + zone.spanned_pages):
        page = mem_map.pages[pfn]
        if page.flags & M_lru:
            flagged += 1
        else:
            bug_on(page.lru != LRU_NONE, f"page {pfn:#x}: page.lru set without PG_lru")
    bug_on(flagged != on_list, "PG_lru pages != pages on the LRU lists")
