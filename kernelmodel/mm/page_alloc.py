"""The buddy allocator and the zone watermarks (mm/page_alloc.c, 2.6.6).

The zone, its free areas and the node (``PageAllocator``, contig_page_data) are
``kernelmodel.include.mmzone``; the LRU list helpers ``kernelmodel.include.mm_inline``. The
block layout, list order and merge order are the kernel's: ``expand`` hands out the top half of
a split block and puts the lower halves at the heads of the smaller lists, and freed blocks
merge upwards and go to the head of their list.

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
      neither PG_lru nor PG_reserved.
"""

from __future__ import annotations

from math import isqrt
from typing import Final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.mmzone import (
    MAX_NR_ZONES,
    MAX_ORDER,
    PageAllocator,
    Zone,
    vl_free_list,
    vl_list_add,
    vl_list_del,
)
from kernelmodel.include.page import (
    LRU_NONE,
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
    PageReserved,
    SetPageReserved,
    page_mapped,
    put_page_testzero,
)
from kernelmodel.include.vmstat import PageState
from machine.i386 import PAGE_SHIFT
from machine.physmem import PhysicalMemory

#: Byte written over freed frames when poisoning is on (the slab's POISON_FREE).
POISON_FREE_BYTE: Final = 0x6B

#: Frames in a block of each order, 1 << order, and its alignment mask (tables, not shifts).
_ORDER_SIZE: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_ORDER_MASK: Final = (0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023)

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

