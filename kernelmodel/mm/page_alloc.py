"""The buddy allocator, zones and watermarks (mm/page_alloc.c, include/linux/mmzone.h, 2.6.6).

The machine is one node with one lowmem zone ("Normal", zone index ZONE_NORMAL) spanning every
frame from pfn 0; the i386 DMA/Normal split is folded into it (documented simplification).
``PageAllocator`` stands for ``contig_page_data`` (the pg_data_t) plus the allocator's globals
(``min_free_kbytes``) and the model's switches (free-page poisoning).

page->lru is one set of links per frame, used for the LRU lists while a page is in use and for
the buddy free lists while it heads a free block, exactly as in the kernel. The zone keeps it as
two int arrays ``lru_next`` / ``lru_prev`` indexed by node: node ``i`` is the page at
``zone_start_pfn + i`` and the list heads are sentinel nodes after the pages
(``active_list``, ``inactive_list``, then ``free_area[k].head``). A node on no list has -1 links
(LIST_POISON). ``page.lru`` says which LRU list the page is on; the order is the zone's.

The 2.6.6 buddy bitmaps (one toggle bit per buddy pair) are replaced by ``free_order[i]``: the
order of the free block that node ``i`` heads, or -1 (2.6.12's PG_private + page_order idea).
The block layout, list order and merge order are the kernel's: ``expand`` hands out the top
half of a split block and puts the lower halves at the heads of the smaller lists, and freed
blocks merge upwards and go to the head of their list.

Not modelled: per-CPU hot/cold page lists (order-0 pages go straight to and from the buddy
lists), compound pages (2.6.6 sets them up only with CONFIG_HUGETLB_PAGE), highmem, NUMA and
kernel_map_pages. The allocator never reclaims: ``_alloc_pages`` stops where __alloc_pages would
call try_to_free_pages, and leaves kswapd's wakeup to the caller through
``kswapd_wakeup_pending`` (a pending flag, not a callback; vmscan.py is above this module).

Invariants:
    * ``free_pages`` equals the sum of ``2**k`` over the blocks on ``free_area[k]``;
    * a free block of order k starts at a node aligned to ``2**k``, lies in the zone, and no
      two free blocks overlap; ``free_order`` is >= 0 exactly at the block heads;
    * every frame of a free block has ``_count == 0``, ``_mapcount == 0``, no mapping, and
      neither PG_lru nor PG_reserved;
    * PG_lru is set exactly on the pages linked on active_list or inactive_list; PG_active
      exactly on those of active_list; ``page.lru`` names the list; ``nr_active`` and
      ``nr_inactive`` are the list lengths.

Lock ordering (documented, not taken: one CPU, and no model function sleeps inside them):
    zone->lru_lock      active/inactive lists, nr_active, nr_inactive
      zone->lock        free_area[], free_pages (taken inside lru_lock by the release paths)
"""

from __future__ import annotations

from math import isqrt
from typing import Final, final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    LRU_NONE,
    ClearPageActive,
    M_active,
    M_anon,
    M_arch_1,
    M_checked,
    M_dirty,
    M_error,
    M_locked,
    M_lru,
    M_maplock,
    M_mappedtodisk,
    M_private,
    M_reclaim,
    M_referenced,
    M_reserved,
    M_slab,
    M_swapcache,
    M_uptodate,
    M_writeback,
    MemMap,
    Page,
    PageActive,
    PageReserved,
    SetPageReserved,
    page_mapped,
    put_page_testzero,
)
from kernelmodel.include.vmstat import PageState
from machine.i386 import PAGE_SHIFT
from machine.physmem import PhysicalMemory

#: Orders 0 .. MAX_ORDER-1 (blocks of 1 .. 1024 pages).
MAX_ORDER: Final = 11
#: Frames in a block of each order, 1 << order, and its alignment mask (tables, not shifts).
_ORDER_SIZE: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_ORDER_MASK: Final = (0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023)

ZONE_DMA: Final = 0
ZONE_NORMAL: Final = 1
ZONE_HIGHMEM: Final = 2
MAX_NR_ZONES: Final = 3

#: Scanning priority a zone starts with (include/linux/swap.h; vmscan uses the same constant).
DEF_PRIORITY: Final = 12

#: Byte written over freed frames when poisoning is on (the slab's POISON_FREE).
POISON_FREE_BYTE: Final = 0x6B

#: min_free_kbytes before init_per_zone_pages_min runs (the static initialiser).
DEFAULT_MIN_FREE_KBYTES: Final = 1024

# ---- gfp_mask bits (2.6.6 include/linux/gfp.h; the kernel's __GFP_x is spelled _GFP_x) --------

_GFP_DMA: Final = 0x01
_GFP_HIGHMEM: Final = 0x02
_GFP_WAIT: Final = 0x10  # can wait and reschedule
_GFP_HIGH: Final = 0x20  # may use emergency pools
_GFP_IO: Final = 0x40  # can start physical I/O
_GFP_FS: Final = 0x80  # can call down to the filesystem
_GFP_COLD: Final = 0x100
_GFP_NOWARN: Final = 0x200
_GFP_REPEAT: Final = 0x400
_GFP_NOFAIL: Final = 0x800
_GFP_NORETRY: Final = 0x1000
_GFP_NO_GROW: Final = 0x2000
_GFP_COMP: Final = 0x4000
_GFP_BITS_MASK: Final = 0xFFFF

GFP_ATOMIC: Final = _GFP_HIGH
GFP_NOIO: Final = _GFP_WAIT
GFP_NOFS: Final = _GFP_WAIT | _GFP_IO
GFP_KERNEL: Final = _GFP_WAIT | _GFP_IO | _GFP_FS
GFP_USER: Final = _GFP_WAIT | _GFP_IO | _GFP_FS
GFP_HIGHUSER: Final = _GFP_WAIT | _GFP_IO | _GFP_FS | _GFP_HIGHMEM
GFP_DMA: Final = _GFP_DMA

# fmt: off
# Flags free_pages_check (2.6.6) treats as a bad page state; PG_dirty is cleared, not reported.
_FREE_BAD_FLAGS: Final = (
    M_lru | M_private | M_locked | M_active | M_reclaim | M_slab | M_maplock | M_anon
    | M_swapcache | M_writeback
)
# Flags prep_new_page (2.6.6) treats as a bad page state.
_NEW_BAD_FLAGS: Final = (
    M_private | M_locked | M_lru | M_active | M_dirty | M_reclaim | M_maplock | M_anon
    | M_swapcache | M_writeback
)
# Flags prep_new_page clears on every allocation.
_NEW_CLEAR_FLAGS: Final = (
    M_uptodate | M_error | M_referenced | M_arch_1 | M_checked | M_mappedtodisk
)
# fmt: on


@final
class FreeArea:
    """struct free_area (include/linux/mmzone.h): the free blocks of one order.

    The kernel threads ``free_list`` through the head pages' lru; here ``head`` is that list's
    sentinel node in the zone's link arrays. ``nr_free`` (blocks on the list) is a model field
    that later kernels also have; 2.6.6 kept the buddy bitmap ``map`` instead.
    """

    def __init__(self, head: int) -> None:
        self.head: int = head
        self.nr_free: int = 0


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

    def __init__(
        self, name: str, zone_idx: int, zone_start_pfn: int, spanned_pages: int, mem_map: MemMap
    ) -> None:
        bug_on(spanned_pages <= 0, "Zone: spanned_pages <= 0")
        bug_on(zone_start_pfn + spanned_pages > mem_map.nframes, "Zone: beyond mem_map")
        n = spanned_pages
        self.name: str = name
        self.zone_idx: int = zone_idx
        self.zone_start_pfn: int = zone_start_pfn
        self.spanned_pages: int = n
        self.present_pages: int = n
        self.free_pages: int = 0
        self.pages_min: int = 0
        self.pages_low: int = 0
        self.pages_high: int = 0
        self.protection: list[int] = [0] * MAX_NR_ZONES
        self.zone_mem_map: MemMap = mem_map
        self.active_list: int = n
        self.inactive_list: int = n + 1
        self.free_area: list[FreeArea] = [FreeArea(n + 2 + k) for k in range(MAX_ORDER)]
        self.free_order: list[int] = [-1] * n
        self.lru_next: list[int] = [-1] * (n + 2 + MAX_ORDER)
        self.lru_prev: list[int] = [-1] * (n + 2 + MAX_ORDER)
        for head in range(n, n + 2 + MAX_ORDER):
            self.lru_next[head] = head
            self.lru_prev[head] = head
        self.nr_active: int = 0
        self.nr_inactive: int = 0
        self.nr_scan_active: int = 0
        self.nr_scan_inactive: int = 0
        self.pages_scanned: int = 0
        self.all_unreclaimable: int = 0
        self.temp_priority: int = DEF_PRIORITY
        self.prev_priority: int = DEF_PRIORITY

    def to_state(self) -> dict[str, object]:
        """Watermarks, counters, free-list and LRU links (the list order included)."""
        return {
            "name": self.name,
            "zone_idx": self.zone_idx,
            "zone_start_pfn": self.zone_start_pfn,
            "spanned_pages": self.spanned_pages,
            "present_pages": self.present_pages,
            "free_pages": self.free_pages,
            "pages_min": self.pages_min,
            "pages_low": self.pages_low,
            "pages_high": self.pages_high,
            "protection": list(self.protection),
            "nr_free": [area.nr_free for area in self.free_area],
            "free_order": list(self.free_order),
            "lru_next": list(self.lru_next),
            "lru_prev": list(self.lru_prev),
            "nr_active": self.nr_active,
            "nr_inactive": self.nr_inactive,
            "nr_scan_active": self.nr_scan_active,
            "nr_scan_inactive": self.nr_scan_inactive,
            "pages_scanned": self.pages_scanned,
            "all_unreclaimable": self.all_unreclaimable,
            "temp_priority": self.temp_priority,
            "prev_priority": self.prev_priority,
        }

    @staticmethod
    def from_state(state: dict[str, object], mem_map: MemMap) -> Zone:
        """Rebuild a zone from ``to_state`` output over an already restored mem_map.

        Raises:
            ValueError: the state is malformed.
        """
        name = state["name"]
        if not isinstance(name, str):
            raise ValueError("zone state: name must be a str")
        n = _state_int(state, "spanned_pages")
        z = Zone(
            name, _state_int(state, "zone_idx"), _state_int(state, "zone_start_pfn"), n, mem_map
        )
        z.present_pages = _state_int(state, "present_pages")
        z.free_pages = _state_int(state, "free_pages")
        z.pages_min = _state_int(state, "pages_min")
        z.pages_low = _state_int(state, "pages_low")
        z.pages_high = _state_int(state, "pages_high")
        z.protection = _state_ints(state, "protection", MAX_NR_ZONES)
        nr_free = _state_ints(state, "nr_free", MAX_ORDER)
        for k in range(MAX_ORDER):
            z.free_area[k].nr_free = nr_free[k]
        z.free_order = _state_ints(state, "free_order", n)
        z.lru_next = _state_ints(state, "lru_next", n + 2 + MAX_ORDER)
        z.lru_prev = _state_ints(state, "lru_prev", n + 2 + MAX_ORDER)
        z.nr_active = _state_int(state, "nr_active")
        z.nr_inactive = _state_int(state, "nr_inactive")
        z.nr_scan_active = _state_int(state, "nr_scan_active")
        z.nr_scan_inactive = _state_int(state, "nr_scan_inactive")
        z.pages_scanned = _state_int(state, "pages_scanned")
        z.all_unreclaimable = _state_int(state, "all_unreclaimable")
        z.temp_priority = _state_int(state, "temp_priority")
        z.prev_priority = _state_int(state, "prev_priority")
        return z

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
        self.zone: Zone = Zone("Normal", ZONE_NORMAL, 0, mem_map.nframes, mem_map)
        self.ps: PageState = ps if ps is not None else PageState()
        self.physmem: PhysicalMemory | None = physmem
        self.poison: bool = poison
        self.min_free_kbytes: int = DEFAULT_MIN_FREE_KBYTES
        self.kswapd_wakeup_pending: bool = False

    def to_state(self) -> dict[str, object]:
        """Allocator state; mem_map, page_state and physmem are saved by their owners."""
        return {
            "min_free_kbytes": self.min_free_kbytes,
            "poison": self.poison,
            "kswapd_wakeup_pending": self.kswapd_wakeup_pending,
            "zone": self.zone.to_state(),
        }

    @staticmethod
    def from_state(
        state: dict[str, object],
        mem_map: MemMap,
        ps: PageState | None = None,
        physmem: PhysicalMemory | None = None,
    ) -> PageAllocator:
        """Rebuild from ``to_state`` output over a restored mem_map.

        Raises:
            ValueError: the state is malformed.
        """
        poison = state["poison"]
        pending = state["kswapd_wakeup_pending"]
        zone = state["zone"]
        if not isinstance(poison, bool) or not isinstance(pending, bool):
            raise ValueError("page allocator state: poison and kswapd_wakeup_pending are bools")
        if not isinstance(zone, dict):
            raise ValueError("page allocator state: zone must be a dict")
        if poison and physmem is None:
            raise ValueError("page allocator state: poisoning needs the machine's physmem")
        alloc = PageAllocator(mem_map, ps, physmem, poison)
        alloc.min_free_kbytes = _state_int(state, "min_free_kbytes")
        alloc.kswapd_wakeup_pending = pending
        alloc.zone = Zone.from_state(zone, mem_map)
        return alloc

    def __repr__(self) -> str:
        return f"<pgdat {self.mem_map.nframes} frames, {self.zone!r}>"


def _state_int(state: dict[str, object], key: str) -> int:
    v = state.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"allocator state: {key} must be an int")
    return v


def _state_ints(state: dict[str, object], key: str, n: int) -> list[int]:
    col = state.get(key)
    if not isinstance(col, list) or len(col) != n:
        raise ValueError(f"allocator state: {key} must be a list of {n} ints")
    out: list[int] = []
    for v in col:
        if not isinstance(v, int):
            raise ValueError(f"allocator state: {key} holds a non-int")
        out.append(v)
    return out


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


def _list_pfns(zone: Zone, head: int) -> list[int]:
    out: list[int] = []
    node = zone.lru_next[head]
    limit = zone.spanned_pages
    while node != head:
        bug_on(node < 0 or len(out) >= limit, "list walk: broken links")
        out.append(zone.zone_start_pfn + node)
        node = zone.lru_next[node]
    return out


def vl_lru_list(zone: Zone, active: bool) -> list[int]:
    """The pfns of the active or inactive list, head (newest) to tail (next to scan)."""
    return _list_pfns(zone, _lru_head(zone, active))


def vl_free_list(zone: Zone, order: int) -> list[int]:
    """The pfns of the block heads on ``free_area[order]``, head to tail."""
    return _list_pfns(zone, zone.free_area[order].head)


def vl_free_blocks(zone: Zone) -> list[tuple[int, int]]:
    """Every free block as (pfn, order), in pfn order (for the UI and the checker)."""
    out: list[tuple[int, int]] = []
    for node in range(zone.spanned_pages):
        order = zone.free_order[node]
        if order >= 0:
            out.append((zone.zone_start_pfn + node, order))
    return out


# ---- the buddy allocator ----------------------------------------------------------------------


def expand(zone: Zone, node: int, low: int, high: int) -> int:
    """expand(): split a free block of order ``high`` down to ``low``; return the kept node.

    Each step puts the lower half at the head of the next smaller free list and keeps the
    upper half, so the caller gets the top ``2**low`` pages of the block.

    Caller: holds zone.lock; the block at ``node`` is already off its list.
    """
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        area = zone.free_area[high]
        vl_list_add(zone, node, area.head)
        zone.free_order[node] = high
        area.nr_free += 1
        node += size
    return node


def _rmqueue(zone: Zone, order: int) -> int:
    """__rmqueue(): take a free block of ``order`` from the buddy lists.

    Returns:
        The pfn of the block's first page, or -1 if no block of that order or larger is free.

    Caller: holds zone.lock.
    """
    for current_order in range(order, MAX_ORDER):
        area = zone.free_area[current_order]
        node = zone.lru_next[area.head]
        if node == area.head:
            continue
        vl_list_del(zone, node)
        zone.free_order[node] = -1
        area.nr_free -= 1
        zone.free_pages -= 1 << order
        return zone.zone_start_pfn + expand(zone, node, order, current_order)
    return -1


def _free_pages_bulk(zone: Zone, pfn: int, order: int) -> None:
    """__free_pages_bulk(): put a block back and merge it with its free buddies.

    The buddy of node ``i`` at order ``k`` is ``i ^ (1 << k)`` (the zone start is aligned);
    the merged block goes to the head of its order's list.

    Caller: holds zone.lock; the pages passed free_pages_check.
    """
    node = pfn - zone.zone_start_pfn
    size = 1 << order
    bug_on(node < 0 or node + size > zone.spanned_pages, "bad_range: block outside zone")
    bug_on((node & (size - 1)) != 0, "__free_pages_bulk: page_idx & ~mask")
    bug_on(zone.free_order[node] >= 0, "__free_pages_bulk: block already free")
    zone.free_pages += size
    free_order = zone.free_order
    while order < MAX_ORDER - 1:
        buddy = node ^ (1 << order)
        if buddy >= zone.spanned_pages or free_order[buddy] != order:
            break
        vl_list_del(zone, buddy)
        free_order[buddy] = -1
        zone.free_area[order].nr_free -= 1
        node &= buddy
        order += 1
    area = zone.free_area[order]
    vl_list_add(zone, node, area.head)
    free_order[node] = order
    area.nr_free += 1


def free_pages_bulk(zone: Zone, pfn: int, order: int) -> None:
    """free_pages_bulk(): free one block of ``order`` at ``pfn`` into the zone.

    The kernel frees a list of same-order blocks; the model frees one per call. Freeing
    clears ``all_unreclaimable`` and ``pages_scanned`` ("memory came back").

    Caller: the pages passed free_pages_check; zone.lock is taken here.
    """
    zone.all_unreclaimable = 0
    zone.pages_scanned = 0
    _free_pages_bulk(zone, pfn, order)


def bad_page(function: str, page: Page) -> None:
    """bad_page(): the kernel prints "Bad page state" and patches the page up; the model
    treats it as the broken invariant it is and raises KernelBug."""
    raise KernelBug(f"{function}: bad page state {page!r}")


def free_pages_check(function: str, page: Page) -> None:
    """free_pages_check(): a page being freed must be unused; a dirty bit is just cleared.

    A mapped page, a mapping, a non-zero count, or any of PG_lru, PG_private, PG_locked,
    PG_active, PG_reclaim, PG_slab, PG_maplock, PG_anon, PG_swapcache, PG_writeback is a bad
    page state (KernelBug). PG_dirty is cleared silently, as 2.6.6 does: an anonymous page can
    legitimately die dirty (zap_pte_range's set_page_dirty on a dirty pte).
    """
    if (
        page_mapped(page)
        or page.mapping is not None
        or page._count != 0
        or (page.flags & _FREE_BAD_FLAGS) != 0
    ):
        bad_page(function, page)
    page.flags &= ~M_dirty


def prep_new_page(page: Page, order: int) -> None:
    """prep_new_page(): check a page leaving the allocator and set its count to 1.

    Clears PG_uptodate, PG_error, PG_referenced, PG_arch_1, PG_checked and
    PG_mappedtodisk and ``private``; set_page_refs sets the head page's count to 1 (CONFIG_MMU).
    """
    if page.mapping is not None or page_mapped(page) or (page.flags & _NEW_BAD_FLAGS) != 0:
        bad_page("prep_new_page", page)
    page.flags &= ~_NEW_CLEAR_FLAGS
    page.private = 0
    page._count = 1


def buffered_rmqueue(zone: Zone, order: int, gfp_mask: int) -> Page | None:
    """buffered_rmqueue(): take a block from the zone and prepare its first page.

    Per-CPU hot/cold lists are not modelled, so order-0 pages also come straight from the
    buddy lists; __GFP_COLD and __GFP_COMP have no effect.

    Returns:
        The first page of the block, or None if the zone has no block of that order.
    """
    pfn = _rmqueue(zone, order)
    if pfn < 0:
        return None
    page = zone.zone_mem_map.pages[pfn]
    prep_new_page(page, order)
    return page


# ---- __alloc_pages ----------------------------------------------------------------------------


def zone_watermark_ok(zone: Zone, order: int, mark: int) -> bool:
    """Whether ``zone`` has ``2**order`` pages free on top of ``mark``.

    2.6.6 writes this test inline in __alloc_pages (``free_pages >= (1 << order) + min``);
    the name is the one later kernels gave it.
    """
    return zone.free_pages >= (1 << order) + mark


def _check_alloc_args(gfp_mask: int, order: int) -> None:
    bug_on(order < 0 or order >= MAX_ORDER, "__alloc_pages: order >= MAX_ORDER")
    bug_on((gfp_mask & ~_GFP_BITS_MASK) != 0, "__alloc_pages: gfp_mask outside __GFP_BITS_MASK")


def _try_zone(alloc: PageAllocator, gfp_mask: int, order: int, mark: int) -> Page | None:
    """One zonelist step of __alloc_pages: take a block if the zone passes the watermark.

    A zone passes with ``2**order + mark`` free pages, or, for an allocation that cannot
    wait, with ``pages_high`` free.
    """
    z = alloc.zone
    if zone_watermark_ok(z, order, mark) or (
        (gfp_mask & _GFP_WAIT) == 0 and z.free_pages >= z.pages_high
    ):
        page = buffered_rmqueue(z, order, gfp_mask)
        if page is not None:
            alloc.ps.pgalloc += 1 << order
        return page
    return None


def vl_alloc_first_pass(
    alloc: PageAllocator, gfp_mask: int, order: int, rt_task: bool = False
) -> Page | None:
    """__alloc_pages' first zonelist pass: the zone must keep protection[alloc_type] free.

    With one zone, protection[alloc_type] is pages_low. Real-time tasks may dip by
    pages_low/2.
    """
    _check_alloc_args(gfp_mask, order)
    z = alloc.zone
    mark = z.protection[z.zone_idx]
    if rt_task:
        mark -= z.pages_low >> 1
    return _try_zone(alloc, gfp_mask, order, mark)


def vl_alloc_second_pass(
    alloc: PageAllocator, gfp_mask: int, order: int, rt_task: bool = False
) -> Page | None:
    """__alloc_pages' second pass (after waking kswapd): __GFP_HIGH may dip by pages_low/4."""
    _check_alloc_args(gfp_mask, order)
    z = alloc.zone
    mark = z.protection[z.zone_idx]
    if gfp_mask & _GFP_HIGH:
        mark -= z.pages_low >> 2
    if rt_task:
        mark -= z.pages_low >> 1
    return _try_zone(alloc, gfp_mask, order, mark)


def vl_alloc_no_watermarks(alloc: PageAllocator, gfp_mask: int, order: int) -> Page | None:
    """__alloc_pages' pass for PF_MEMALLOC / PF_MEMDIE tasks (not in interrupt): no minimum."""
    _check_alloc_args(gfp_mask, order)
    page = buffered_rmqueue(alloc.zone, order, gfp_mask)
    if page is not None:
        alloc.ps.pgalloc += 1 << order
    return page


def vl_alloc_after_reclaim(alloc: PageAllocator, gfp_mask: int, order: int) -> Page | None:
    """__alloc_pages' pass after try_to_free_pages: the first pass's test without the rt dip."""
    _check_alloc_args(gfp_mask, order)
    z = alloc.zone
    return _try_zone(alloc, gfp_mask, order, z.protection[z.zone_idx])


def vl_wakeup_kswapd_request(alloc: PageAllocator, zone: Zone) -> None:
    """The allocator's side of wakeup_kswapd(zone): flag a wakeup if free <= pages_low.

    vmscan's wakeup_kswapd also requires kswapd to be sleeping; the kernel's allocation path
    checks that when it consumes ``kswapd_wakeup_pending``.
    """
    if zone.free_pages <= zone.pages_low:
        alloc.kswapd_wakeup_pending = True


def vl_alloc_fast(
    alloc: PageAllocator, gfp_mask: int, order: int, rt_task: bool = False
) -> Page | None:
    """__alloc_pages up to its reclaim decision: first pass, wakeup_kswapd, second pass.

    Returns:
        The page, or None: the zone is below the watermark for this request (or too
        fragmented). The caller then follows __alloc_pages: PF_MEMALLOC tasks try
        ``vl_alloc_no_watermarks``; atomic (!__GFP_WAIT) requests fail; others reclaim
        (try_to_free_pages), try ``vl_alloc_after_reclaim`` and retry as ``vl_should_retry``
        says. Between the passes a wakeup of kswapd may be flagged in
        ``alloc.kswapd_wakeup_pending``.
    """
    page = vl_alloc_first_pass(alloc, gfp_mask, order, rt_task)
    if page is not None:
        return page
    vl_wakeup_kswapd_request(alloc, alloc.zone)
    return vl_alloc_second_pass(alloc, gfp_mask, order, rt_task)


def _alloc_pages(
    alloc: PageAllocator,
    gfp_mask: int,
    order: int,
    rt_task: bool = False,
    pf_memalloc: bool = False,
) -> Page | None:
    """__alloc_pages() without the reclaim loop (this module never reclaims).

    Runs ``vl_alloc_fast`` and, for a PF_MEMALLOC/PF_MEMDIE task, the pass that ignores the
    minimums. None means the caller must reclaim and retry (or fail an atomic request).

    Args:
        alloc: the node.
        gfp_mask: GFP_KERNEL, GFP_ATOMIC, ... (``_GFP_*`` bits).
        order: 0 .. MAX_ORDER-1.
        rt_task: the current task is real-time (rt_task(current)).
        pf_memalloc: the current task has PF_MEMALLOC or PF_MEMDIE and is not in an interrupt.
    """
    page = vl_alloc_fast(alloc, gfp_mask, order, rt_task)
    if page is None and pf_memalloc:
        page = vl_alloc_no_watermarks(alloc, gfp_mask, order)
    return page


def alloc_pages(alloc: PageAllocator, gfp_mask: int, order: int) -> Page | None:
    """alloc_pages(): ``_alloc_pages`` for an ordinary task (the node's only zonelist)."""
    return _alloc_pages(alloc, gfp_mask, order)


def alloc_page(alloc: PageAllocator, gfp_mask: int) -> Page | None:
    """alloc_page(): one page."""
    return _alloc_pages(alloc, gfp_mask, 0)


def vl_should_retry(gfp_mask: int, order: int) -> bool:
    """__alloc_pages' do_retry after a failed reclaim pass.

    Retry (after blk_congestion_wait) for order <= 3, or with __GFP_REPEAT or __GFP_NOFAIL,
    unless __GFP_NORETRY.
    """
    if gfp_mask & _GFP_NORETRY:
        return False
    return order <= 3 or (gfp_mask & (_GFP_REPEAT | _GFP_NOFAIL)) != 0


# ---- freeing ----------------------------------------------------------------------------------


def vl_poison_frames(alloc: PageAllocator, pfn: int, nr: int) -> None:
    """Fill ``nr`` frames from ``pfn`` with POISON_FREE_BYTE (the model's debug poisoning)."""
    mem = alloc.physmem
    if mem is None:
        return
    for p in range(pfn, pfn + nr):
        mem.fill_frame(p, POISON_FREE_BYTE)


def _free_pages_ok(alloc: PageAllocator, page: Page, order: int) -> None:
    """__free_pages_ok(): check every page of a block and give it back to the buddy lists.

    Caller: the block's reference count has dropped to zero.
    """
    nr = 1 << order
    pfn = page.pfn
    alloc.ps.pgfree += nr
    pages = alloc.mem_map.pages
    bug_on(pfn + nr > alloc.mem_map.nframes, "__free_pages_ok: block beyond mem_map")
    for p in range(pfn, pfn + nr):
        free_pages_check("__free_pages_ok", pages[p])
    if alloc.poison:
        vl_poison_frames(alloc, pfn, nr)
    free_pages_bulk(alloc.zone, pfn, order)


def free_hot_page(alloc: PageAllocator, page: Page) -> None:
    """free_hot_page(): free one page (no per-CPU list in the model: straight to the buddy).

    Caller: the page's count has dropped to zero (put_page_testzero returned True).
    """
    _free_pages_ok(alloc, page, 0)


def free_cold_page(alloc: PageAllocator, page: Page) -> None:
    """free_cold_page(): as free_hot_page (hot and cold lists are not modelled)."""
    _free_pages_ok(alloc, page, 0)


def _free_pages(alloc: PageAllocator, page: Page, order: int) -> None:
    """__free_pages(): drop a reference; free the block when it was the last one.

    Reserved pages are never freed (their count is not even dropped).

    Caller: holds a reference on ``page``.
    """
    if not PageReserved(page) and put_page_testzero(page):
        if order == 0:
            free_hot_page(alloc, page)
        else:
            _free_pages_ok(alloc, page, order)


def _free_page(alloc: PageAllocator, page: Page) -> None:
    """__free_page(): ``_free_pages(page, 0)``."""
    _free_pages(alloc, page, 0)


def free_pages(alloc: PageAllocator, pfn: int, order: int) -> None:
    """free_pages(): as ``_free_pages`` for the block at ``pfn`` (the kernel takes a virtual
    address; the model takes the frame number).

    Caller: holds a reference on the block's first page.
    """
    _free_pages(alloc, alloc.mem_map.pfn_to_page(pfn), order)


def nr_free_pages(alloc: PageAllocator) -> int:
    """nr_free_pages(): free pages over all zones."""
    return alloc.zone.free_pages


# ---- watermarks (setup_per_zone_pages_min and friends) -----------------------------------------


def nr_free_buffer_pages(alloc: PageAllocator) -> int:
    """nr_free_buffer_pages(): present lowmem pages above each zone's pages_high.

    At boot pages_high is still 0, so this is every present page.
    """
    z = alloc.zone
    return z.present_pages - z.pages_high if z.present_pages > z.pages_high else 0


def setup_per_zone_pages_min(alloc: PageAllocator) -> None:
    """setup_per_zone_pages_min(): derive pages_min/low/high from min_free_kbytes.

    pages_min = (min_free_kbytes / 4) in proportion to the zone's share of lowmem (all of it
    here); pages_low = 2 * pages_min; pages_high = 3 * pages_min.
    """
    pages_min = alloc.min_free_kbytes >> (PAGE_SHIFT - 10)
    z = alloc.zone
    lowmem_pages = z.present_pages
    z.pages_min = (pages_min * z.present_pages) // lowmem_pages
    z.pages_low = z.pages_min * 2
    z.pages_high = z.pages_min * 3


def setup_per_zone_protection(alloc: PageAllocator) -> None:
    """setup_per_zone_protection(): protection[alloc_type] for the one zone.

    Allocation types below the zone's index get 0 (the zone is not in their zonelist); the
    others get pages_low (no higher zone has memory to add its contribution).
    """
    z = alloc.zone
    for alloc_type in range(MAX_NR_ZONES):
        z.protection[alloc_type] = 0 if z.zone_idx > alloc_type else z.pages_low


def init_per_zone_pages_min(alloc: PageAllocator) -> None:
    """init_per_zone_pages_min() (2.6.6): min_free_kbytes = int_sqrt(lowmem_kbytes).

    Clamped to [128, 16384]. (2.6.6's table: 16 MB -> 128k, 64 MB -> 256k, 128 MB -> 362k,
    256 MB -> 512k; later kernels use int_sqrt(lowmem_kbytes * 16).) ``math.isqrt`` is the
    exact floor square root that lib/int_sqrt.c computes.
    """
    lowmem_kbytes = nr_free_buffer_pages(alloc) * (1 << (PAGE_SHIFT - 10))
    kb = isqrt(lowmem_kbytes)
    if kb < 128:
        kb = 128
    if kb > 16384:
        kb = 16384
    alloc.min_free_kbytes = kb
    setup_per_zone_pages_min(alloc)
    setup_per_zone_protection(alloc)


def min_free_kbytes_sysctl_handler(alloc: PageAllocator, value: int) -> None:
    """min_free_kbytes_sysctl_handler(): set vm.min_free_kbytes and recompute watermarks."""
    bug_on(value <= 0, "min_free_kbytes_sysctl_handler: value <= 0")
    alloc.min_free_kbytes = value
    setup_per_zone_pages_min(alloc)
    setup_per_zone_protection(alloc)


# ---- boot -------------------------------------------------------------------------------------


def memmap_init(zone: Zone) -> None:
    """memmap_init_zone(): every page starts reserved with a zero count and empty lru."""
    pages = zone.zone_mem_map.pages
    for pfn in range(zone.zone_start_pfn, zone.zone_start_pfn + zone.spanned_pages):
        page = pages[pfn]
        page._count = 0
        SetPageReserved(page)
        page.lru = LRU_NONE


def free_all_bootmem(alloc: PageAllocator, nr_kernel_frames: int) -> int:
    """free_all_bootmem(): release every frame boot did not keep to the buddy allocator.

    Frame 0 (the BIOS page) and frames 1 .. nr_kernel_frames (the kernel image and boot
    data) stay PG_reserved forever. The others are freed in pfn order, as
    free_all_bootmem_core does, so the buddy lists end up in the kernel's order. Boot frees
    are counted in pgfree but not poisoned (the frames were never used, and zero frames keep
    RAM snapshots small).

    The model does not free the frames one by one: freeing a run of frames in pfn order
    leaves exactly its decomposition into the largest aligned blocks (each block merged as
    far as its buddies allow), each order's list holding its blocks by descending pfn (each
    was added at the head as it completed). ``vl_boot_free_blocks`` builds that state
    directly, so booting 1M frames costs one pass over the pages, not a merge per frame; a
    test proves it equals freeing frame by frame.

    Returns:
        The number of frames freed.
    """
    mm = alloc.mem_map
    bug_on(
        nr_kernel_frames < 0 or nr_kernel_frames + 1 >= mm.nframes,
        "free_all_bootmem: no frame left after the kernel image",
    )
    pages = mm.pages
    first = 1 + nr_kernel_frames
    for pfn in range(first, mm.nframes):
        page = pages[pfn]
        page.flags &= ~M_reserved
        free_pages_check("free_all_bootmem", page)
    count = mm.nframes - first
    alloc.ps.pgfree += count
    zone = alloc.zone
    zone.all_unreclaimable = 0
    zone.pages_scanned = 0
    vl_boot_free_blocks(zone, first, mm.nframes)
    return count


def vl_boot_free_blocks(zone: Zone, start_pfn: int, end_pfn: int) -> None:
    """The buddy lists after freeing frames ``start_pfn .. end_pfn - 1`` one by one in pfn
    order into a zone with none free (what __free_pages_bulk leaves; see free_all_bootmem).

    Each block is the largest one (at most MAX_ORDER - 1) aligned at its start that ends by
    ``end_pfn``; blocks are added to their order's list in pfn order, at the head.

    Caller: the zone has no free block; the pages passed free_pages_check.
    """
    node = start_pfn - zone.zone_start_pfn
    end = end_pfn - zone.zone_start_pfn
    bug_on(node < 0 or end > zone.spanned_pages or node >= end, "bad_range: boot frames")
    bug_on(zone.free_pages != 0, "free_all_bootmem: zone already has free pages")
    free_order = zone.free_order
    while node < end:
        order = MAX_ORDER - 1
        while order > 0 and ((node & _ORDER_MASK[order]) != 0 or node + _ORDER_SIZE[order] > end):
            order -= 1
        area = zone.free_area[order]
        vl_list_add(zone, node, area.head)
        free_order[node] = order
        area.nr_free += 1
        size = _ORDER_SIZE[order]
        zone.free_pages += size
        node += size


def vl_boot(
    nframes: int,
    nr_kernel_frames: int,
    ps: PageState | None = None,
    physmem: PhysicalMemory | None = None,
    poison: bool = False,
) -> PageAllocator:
    """Boot the allocator: mem_map, memmap_init, free_all_bootmem, init_per_zone_pages_min.

    Args:
        nframes: RAM size in frames.
        nr_kernel_frames: frames after frame 0 kept reserved for the kernel image.
        ps: the kernel's page_state counters (a fresh one if None).
        physmem: the machine's RAM (needed for poisoning).
        poison: poison freed frames with POISON_FREE_BYTE.
    """
    alloc = PageAllocator(MemMap(nframes), ps, physmem, poison)
    memmap_init(alloc.zone)
    free_all_bootmem(alloc, nr_kernel_frames)
    init_per_zone_pages_min(alloc)
    return alloc


# ---- checks (run by the invariant checker) ----------------------------------------------------


def vl_check_free_accounting(zone: Zone, mem_map: MemMap) -> None:
    """Check the buddy lists against free_pages and the free frames' page state.

    Raises:
        KernelBug: naming the first broken invariant.
    """
    covered = bytearray(zone.spanned_pages)
    total = 0
    for order in range(MAX_ORDER):
        heads = vl_free_list(zone, order)
        bug_on(
            len(heads) != zone.free_area[order].nr_free,
            f"free_area[{order}]: nr_free != list length",
        )
        for pfn in heads:
            total += _check_free_block(zone, mem_map, covered, pfn, order)
    bug_on(total != zone.free_pages, f"zone {zone.name}: free_pages {zone.free_pages} != {total}")
    heads_marked = 0
    for node in range(zone.spanned_pages):
        if zone.free_order[node] >= 0:
            heads_marked += 1
    nr_blocks = 0
    for area in zone.free_area:
        nr_blocks += area.nr_free
    bug_on(heads_marked != nr_blocks, "free_order: marked heads != blocks on the free lists")


def _check_free_block(zone: Zone, mem_map: MemMap, covered: bytearray, pfn: int, order: int) -> int:
    """Check one free block; returns its size."""
    node = pfn - zone.zone_start_pfn
    size = 1 << order
    where = f"free block pfn {pfn:#x} order {order}"
    bug_on(zone.free_order[node] != order, f"{where}: free_order disagrees")
    bug_on((node & (size - 1)) != 0, f"{where}: misaligned")
    bug_on(node + size > zone.spanned_pages, f"{where}: beyond the zone")
    for i in range(node, node + size):
        bug_on(covered[i] != 0, f"{where}: overlaps another free block")
        covered[i] = 1
        page = mem_map.pages[zone.zone_start_pfn + i]
        bug_on(page._count != 0, f"{where}: page {page.pfn:#x} count != 0")
        bug_on(
            (page.flags & (M_lru | M_reserved)) != 0,
            f"{where}: page {page.pfn:#x} has PG_lru or PG_reserved",
        )
        bug_on(
            page.mapping is not None or page._mapcount != 0,
            f"{where}: page {page.pfn:#x} mapped or has a mapping",
        )
        bug_on(page.lru != LRU_NONE, f"{where}: page {page.pfn:#x} on an LRU list")
    return size


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
