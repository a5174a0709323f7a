"""struct zone, its free areas and the node (include/linux/mmzone.h, 2.6.6).

The machine is one node with one lowmem zone ("Normal", zone index ZONE_NORMAL) spanning every
frame from pfn 0; the i386 DMA/Normal split is folded into it (documented simplification).
``PageAllocator`` stands for ``contig_page_data`` (the pg_data_t) plus the allocator's globals
(``min_free_kbytes``) and the model's switches (free-page poisoning); the buddy allocator that
works on them is ``kernelmodel.mm.page_alloc``, the LRU list helpers ``mm_inline``.

page->lru is one set of links per frame, used for the LRU lists while a page is in use and for
the buddy free lists while it heads a free block, exactly as in the kernel. The zone keeps it as
two int arrays ``lru_next`` / ``lru_prev`` indexed by node: node ``i`` is the page at
``zone_start_pfn + i`` and the list heads are sentinel nodes after the pages
(``active_list``, ``inactive_list``, then ``free_area[k].head``). A node on no list has -1 links
(LIST_POISON). ``page.lru`` says which LRU list the page is on; the order is the zone's.

The 2.6.6 buddy bitmaps (one toggle bit per buddy pair) are replaced by ``free_order[i]``: the
order of the free block that node ``i`` heads, or -1 (2.6.12's PG_private + page_order idea).

Lock ordering (documented, not taken: one CPU, and no model function sleeps inside them):
    zone->lru_lock      active/inactive lists, nr_active, nr_inactive
      zone->lock        free_area[], free_pages (taken inside lru_lock by the release paths)
"""

from __future__ import annotations

from typing import Final, final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import MemMap
from kernelmodel.include.vmstat import PageState
from machine.physmem import PhysicalMemory

#: Orders 0 .. MAX_ORDER-1 (blocks of 1 .. 1024 pages).
MAX_ORDER: Final = 11
ZONE_DMA: Final = 0
ZONE_NORMAL: Final = 1
ZONE_HIGHMEM: Final = 2
MAX_NR_ZONES: Final = 3

#: Scanning priority a zone starts with (include/linux/swap.h; vmscan uses the same constant).
DEF_PRIORITY: Final = 12

#: min_free_kbytes before init_per_zone_pages_min runs (the static initialiser).
DEFAULT_MIN_FREE_KBYTES: Final = 1024

@final
class FreeArea:
    """struct free_area (include/linux/mmzone.h): the free blocks of one order.

    The kernel threads ``free_list`` through the head pages' lru; here ``head`` is that list's
    sentinel node in the zone's link arrays. ``nr_free`` (blocks on the list) is a model field
    that later kernels also have; 2.6.6 kept the buddy bitmap ``map`` instead.
    """

    def __init__(self, head: int) -> None:
        self.head: int = head
        self.nr_free: int = 0  # state: column


@final
class Zone:
    """struct zone (include/linux/mmzone.h, 2.6.6).

    Attributes:
        name: "Normal".
        zone_idx: ZONE_NORMAL (zone_idx(zone)).
        zone_start_pfn, spanned_pages, present_pages: the frames the zone covers.
        free_pages: frames on the free lists.
        pages_min, pages_low, pages_high: watermarks (setup_per_zone_pages_min).
        protection: per allocation type (GFP_DMA, GFP_KERNEL, GFP_HIGHMEM), the free pages
            __alloc_pages must leave in this zone (setup_per_zone_protection).
        zone_mem_map: mem_map (the zone's pages start at zone_start_pfn in it).
        free_area: MAX_ORDER free lists.
        free_order: per node, the order of the free block it heads, or -1.
        lru_next, lru_prev: the page->lru links of every node (pages, then list heads).
        active_list, inactive_list: sentinel nodes of the two LRU lists.
        nr_active, nr_inactive: LRU list lengths.
        nr_scan_active, nr_scan_inactive: reclaim scan credit (shrink_zone).
        pages_scanned: pages scanned since the last free (reset by free_pages_bulk).
        all_unreclaimable: 1 when kswapd gave up on the zone (reset by free_pages_bulk).
        temp_priority, prev_priority: reclaim priorities (DEF_PRIORITY at boot).
    """

    # state context: mem_map: MemMap from kernelmodel.include.page
    def __init__(
        self, name: str, zone_idx: int, zone_start_pfn: int, spanned_pages: int, mem_map: MemMap
    ) -> None:
        bug_on(spanned_pages <= 0, "Zone: spanned_pages <= 0")
        bug_on(zone_start_pfn + spanned_pages > mem_map.nframes, "Zone: beyond mem_map")
        n = spanned_pages
        self.name: str = name  # state
        self.zone_idx: int = zone_idx  # state
        self.zone_start_pfn: int = zone_start_pfn  # state
        self.spanned_pages: int = spanned_pages  # state
        self.present_pages: int = n  # state
        self.free_pages: int = 0  # state
        self.pages_min: int = 0  # state
        self.pages_low: int = 0  # state
        self.pages_high: int = 0  # state
        self.protection: list[int] = [0] * MAX_NR_ZONES  # state
        self.zone_mem_map: MemMap = mem_map
        self.active_list: int = n
        self.inactive_list: int = n + 1
        self.free_area: list[FreeArea] = [
            FreeArea(n + 2 + k) for k in range(MAX_ORDER)
        ]  # state: columns
        self.free_order: list[int] = [-1] * n  # state
        self.lru_next: list[int] = [-1] * (n + 2 + MAX_ORDER)  # state
        self.lru_prev: list[int] = [-1] * (n + 2 + MAX_ORDER)  # state
        for head in range(n, n + 2 + MAX_ORDER):
            self.lru_next[head] = head
            self.lru_prev[head] = head
        self.nr_active: int = 0  # state
        self.nr_inactive: int = 0  # state
        self.nr_scan_active: int = 0  # state
        self.nr_scan_inactive: int = 0  # state
        self.pages_scanned: int = 0  # state
        self.all_unreclaimable: int = 0  # state
        self.temp_priority: int = DEF_PRIORITY  # state
        self.prev_priority: int = DEF_PRIORITY  # state

    def vl_check_state(self) -> None:
        """The loader's check across fields: each column as long as the zone needs."""
        n = self.spanned_pages
        for key, col, want in (("protection", self.protection, MAX_NR_ZONES),
                               ("free_order", self.free_order, n),
                               ("lru_next", self.lru_next, n + 2 + MAX_ORDER),
                               ("lru_prev", self.lru_prev, n + 2 + MAX_ORDER)):
            if len(col) != want:
                raise ValueError(f"zone state: {key} must be a list of {want} ints")

    def __repr__(self) -> str:
        return (
            f"<zone {self.name} free:{self.free_pages} min:{self.pages_min} "
            f"low:{self.pages_low} high:{self.pages_high} active:{self.nr_active} "
            f"inactive:{self.nr_inactive} present:{self.present_pages}>"
        )


@final
class PageAllocator:
    """contig_page_data (pg_data_t, include/linux/mmzone.h) with the allocator's globals.

    Attributes:
        mem_map: node_mem_map (every frame of the machine).
        zone: the node's one zone.
        ps: the global page_state counters (pgalloc, pgfree).
        physmem: the machine's RAM, used only to poison freed frames.
        poison: fill freed frames with POISON_FREE_BYTE (a debugging mode, as xv6's kfree;
            2.6.6 has CONFIG_DEBUG_PAGEALLOC, which unmaps instead).
        min_free_kbytes: the vm.min_free_kbytes sysctl.
        kswapd_wakeup_pending: __alloc_pages called wakeup_kswapd on a zone at or below
            pages_low; the caller wakes kswapd (if it sleeps) and clears the flag.
    """

    # state context: mem_map: MemMap from kernelmodel.include.page
    # state context: ps: PageState | None = None from kernelmodel.include.vmstat
    # state context: physmem: PhysicalMemory | None = None from machine.physmem
    def __init__(
        self,
        mem_map: MemMap,
        ps: PageState | None = None,
        physmem: PhysicalMemory | None = None,
        poison: bool = False,
    ) -> None:
        """Set up an empty node (free_area_init_core); ``vl_boot`` fills it."""
        bug_on(poison and physmem is None, "PageAllocator: poison needs physmem")
        self.mem_map: MemMap = mem_map
        self.ps: PageState = ps if ps is not None else PageState()
        self.physmem: PhysicalMemory | None = physmem
        self.min_free_kbytes: int = DEFAULT_MIN_FREE_KBYTES  # state
        # a restored poisoning allocator needs the machine's RAM too (the bug_on above)
        self.poison: bool = poison  # state
        self.kswapd_wakeup_pending: bool = False  # state
        # mem_map, page_state and physmem are saved by their owners
        self.zone: Zone = Zone("Normal", ZONE_NORMAL, 0, mem_map.nframes, mem_map)  # state

    def __repr__(self) -> str:
        return f"<pgdat {self.mem_map.nframes} frames, {self.zone!r}>"


# ---- list_head primitives on the zone's link arrays (include/linux/list.h) --------------------


def vl_list_add(zone: Zone, node: int, head: int) -> None:
    """list_add(): link ``node`` right after ``head`` (at the head of the list)."""
    nxt = zone.lru_next[head]
    zone.lru_next[node] = nxt
    zone.lru_prev[node] = head
    zone.lru_prev[nxt] = node
    zone.lru_next[head] = node


def vl_list_add_tail(zone: Zone, node: int, head: int) -> None:
    """list_add_tail(): link ``node`` right before ``head`` (at the tail of the list)."""
    prv = zone.lru_prev[head]
    zone.lru_next[node] = head
    zone.lru_prev[node] = prv
    zone.lru_next[prv] = node
    zone.lru_prev[head] = node


def vl_list_del(zone: Zone, node: int) -> None:
    """list_del(): unlink ``node`` and poison its links (-1).

    Caller: the node is on a list (deleting an unlinked node is a BUG, as the poisoned
    pointers would oops).
    """
    nxt = zone.lru_next[node]
    prv = zone.lru_prev[node]
    bug_on(nxt < 0 or prv < 0, "list_del: entry not on a list")
    zone.lru_next[prv] = nxt
    zone.lru_prev[nxt] = prv
    zone.lru_next[node] = -1
    zone.lru_prev[node] = -1


def vl_list_pfns(zone: Zone, head: int) -> list[int]:
    out: list[int] = []
    node = zone.lru_next[head]
    limit = zone.spanned_pages
    while node != head:
        bug_on(node < 0 or len(out) >= limit, "list walk: broken links")
        out.append(zone.zone_start_pfn + node)
        node = zone.lru_next[node]
    return out


def vl_free_list(zone: Zone, order: int) -> list[int]:
    """The pfns of the block heads on ``free_area[order]``, head to tail."""
    return vl_list_pfns(zone, zone.free_area[order].head)


def vl_free_blocks(zone: Zone) -> list[tuple[int, int]]:
    """Every free block as (pfn, order), in pfn order (for the UI and the checker)."""
    out: list[tuple[int, int]] = []
    for node in range(zone.spanned_pages):
        order = zone.free_order[node]
        if order >= 0:
            out.append((zone.zone_start_pfn + node, order))
    return out
