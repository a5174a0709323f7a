"""Swap areas and swap slots (mm/swapfile.c, include/linux/swap.h, include/linux/swapops.h, 2.6.6).

The machine has one swap area, type 0: the last ``cfg.swap_bytes`` of the disk, formatted by
``vl_mkswap`` with a version-1 swap header (mkswap's ``SWAPSPACE2`` page) and enabled by
``vl_swapon`` the way sys_swapon reads that header. Slot ``offset`` of the area lives at sector
``swap_start + offset * 8`` (map_swap_page: one extent, no holes). Slot 0 is the header and
is marked SWAP_MAP_BAD, as in Linux.

``swap_map[offset]`` counts the references to a slot: one per swap pte that holds the entry and
one for the swap cache page (if any). A slot is free when its count is 0. Slots are handed out
by scan_swap_map's 2.6.6 cluster logic: sequentially from ``cluster_next`` for up to
SWAPFILE_CLUSTER (256) allocations, then a search from ``lowest_bit`` for a completely free run
of 256 slots, then first-fit; ``lowest_bit``/``highest_bit`` bound the free slots.

swp_entry_t values are the arch-independent form of include/linux/swapops.h (pgtable.py:
``swp_entry``, ``swp_type``, ``swp_offset``): the type in the top 5 bits of a 32-bit word, the
offset below, so with one area the value is the offset. pgtable.py converts them to and from
the i386 swap pte; page->private of a swap-cache page holds the value.

Faithful details worth knowing:
    * 2.6.6's sys_swapon takes ``maxpages = last_page`` for a version-1 header, so the last page
      of the area is never used: an area of N pages offers N - 2 slots (the header and the
      last page are lost);
    * ``swap_entry_free`` leaves a slot stuck at SWAP_MAP_MAX once a count overflowed there
      (only swapoff would reclaim it);
    * the kernel reports a bad entry passed to swap_free with a printk; the model raises
      KernelBug, since that is always a broken invariant of the model.

Invariants (``vl_check_swap_map``):
    * ``inuse_pages`` is the number of slots with a non-zero count other than SWAP_MAP_BAD;
    * ``nr_swap_pages == total_swap_pages - inuse_pages`` (one area, no swapoff);
    * every free slot lies in ``[lowest_bit, highest_bit]``; a full area has
      ``lowest_bit == max`` and ``highest_bit == 0``;
    * no two areas overlap on the disk;
    * ``swap_map[0] == SWAP_MAP_BAD``.

Lock ordering (documented, not taken: one CPU, no step sleeps holding them):
    swap_list_lock (swaplock)
      swap_device_lock (si->sdev_lock)
        swapper_space.tree_lock
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.page import (
    PageLocked,
    PagePrivate,
    PageReserved,
    PageSwapCache,
    PageWriteback,
    SetPageDirty,
    TestSetPageLocked,
    get_page,
    page_count,
)
from kernelmodel.include.swap import (
    SWAP_MAP_BAD,
    SWAP_MAP_MAX,
    SWP_ACTIVE,
    SWP_OFFSET_MAX,
    SWP_USED,
    SwapInfoStruct,
    SwapState,
)
from kernelmodel.mm.pgtable import MAX_SWAPFILES, swp_entry, swp_offset, swp_type
from kernelmodel.mm.swapcache_fields import page_swp_entry
from machine.i386 import PAGE_SIZE, SECTOR_SIZE, SECTORS_PER_PAGE

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from machine.disk import Disk

#: Slots allocated sequentially before scan_swap_map looks for a new empty cluster.
SWAPFILE_CLUSTER: Final = 256
#: mkswap's version-1 header: fields after 1024 boot bytes, and the magic in the page's tail.
SWAP_HEADER_VERSION: Final = 1
_HDR_VERSION: Final = 1024
_HDR_LAST_PAGE: Final = 1028
_HDR_NR_BADPAGES: Final = 1032
_HDR_MAGIC_AT: Final = PAGE_SIZE - 10
SWAP_MAGIC: Final = b"SWAPSPACE2"

#: errno values returned by swapon.
EBUSY: Final = 16
EINVAL: Final = 22


# ---- mkswap and swapon ---------------------------------------------------------------------------


def vl_mkswap(disk: Disk, start_sector: int, nr_pages: int) -> None:
    """mkswap: write a version-1 swap header (SWAPSPACE2) into the area's first page.

    ``last_page`` is ``nr_pages - 1`` and no bad pages are listed, as mkswap writes them.
    The write is untimed (boot-time formatting).
    """
    hdr = bytearray(PAGE_SIZE)
    hdr[_HDR_VERSION : _HDR_VERSION + 4] = SWAP_HEADER_VERSION.to_bytes(4, "little")
    hdr[_HDR_LAST_PAGE : _HDR_LAST_PAGE + 4] = (max(nr_pages - 1, 0)).to_bytes(4, "little")
    hdr[_HDR_NR_BADPAGES : _HDR_NR_BADPAGES + 4] = (0).to_bytes(4, "little")
    hdr[_HDR_MAGIC_AT:PAGE_SIZE] = SWAP_MAGIC
    disk.write_sectors(start_sector, bytes(hdr))


def _swapon_read_header(disk: Disk, start_sector: int) -> int:
    """sys_swapon's header check; returns last_page, or -EINVAL for a bad header."""
    hdr = disk.read_sectors(start_sector, PAGE_SIZE // SECTOR_SIZE)
    if hdr[_HDR_MAGIC_AT:PAGE_SIZE] != SWAP_MAGIC:
        return -EINVAL
    if int.from_bytes(hdr[_HDR_VERSION : _HDR_VERSION + 4], "little") != SWAP_HEADER_VERSION:
        return -EINVAL
    if int.from_bytes(hdr[_HDR_NR_BADPAGES : _HDR_NR_BADPAGES + 4], "little") != 0:
        return -EINVAL  # the model's mkswap never lists bad pages
    return int.from_bytes(hdr[_HDR_LAST_PAGE : _HDR_LAST_PAGE + 4], "little")


def vl_swapon(sw: SwapState, disk: Disk, start_sector: int, nr_sectors: int) -> int:
    """sys_swapon for a block-device area of ``nr_sectors`` at ``start_sector``.

    Reads the header, sizes swap_map (2.6.6: ``maxpages = last_page``, so the last page is
    never used), marks slot 0 SWAP_MAP_BAD, and links the area on swap_list.

    Returns:
        0; -EBUSY if an area already uses this device (bd_claim fails); -EINVAL for a bad
        header, an area that is too small, or too many areas.
    """
    for si in sw.swap_info:
        if (si.flags & SWP_USED) and si.start_sector == start_sector:
            return -EBUSY
    if len(sw.swap_info) >= MAX_SWAPFILES:
        return -EINVAL
    last_page = _swapon_read_header(disk, start_sector)
    if last_page < 0:
        return last_page
    area_pages = nr_sectors // SECTORS_PER_PAGE
    maxpages = min(SWP_OFFSET_MAX - 1, last_page)
    nr_good_pages = last_page - 1
    if maxpages > area_pages or nr_good_pages <= 0 or maxpages < 2:
        return -EINVAL
    si = SwapInfoStruct()
    si.flags = SWP_ACTIVE
    sw.least_priority -= 1
    si.prio = sw.least_priority
    si.swap_map = [0] * maxpages
    si.swap_map[0] = SWAP_MAP_BAD
    si.lowest_bit = 1
    si.highest_bit = maxpages - 1
    si.max = maxpages
    si.pages = nr_good_pages
    si.start_sector = start_sector
    _swap_list_insert(sw, si)
    sw.nr_swap_pages += nr_good_pages
    sw.total_swap_pages += nr_good_pages
    return 0


def _swap_list_insert(sw: SwapState, si: SwapInfoStruct) -> None:
    """Insert a new area into swap_list in priority order (sys_swapon's tail)."""
    type_ = len(sw.swap_info)
    sw.swap_info.append(si)
    sw.nr_swapfiles = type_ + 1
    prev = -1
    i = sw.swap_list_head
    while i >= 0:
        if si.prio >= sw.swap_info[i].prio:
            break
        prev = i
        i = sw.swap_info[i].next
    si.next = i
    if prev < 0:
        sw.swap_list_head = type_
        sw.swap_list_next = type_
    else:
        sw.swap_info[prev].next = type_


def vl_swap_boot(k: Kernel) -> int:
    """Boot-time mkswap + swapon of the area at the end of the disk (``cfg.swap_bytes``).

    Returns:
        0; -EINVAL when the configured area is too small to hold a usable slot (the machine
        then runs without swap, as a kernel whose swapon failed); -EBUSY if it is on already.

    Caller: start_kernel, once the disk exists (before vl_start_kswapd).
    """
    swap_bytes = k.cfg.swap_bytes
    disk_bytes = k.machine.config.disk_bytes
    if swap_bytes <= 0 or swap_bytes > disk_bytes:
        return -EINVAL
    start = (disk_bytes - swap_bytes) // SECTOR_SIZE
    nr_pages = swap_bytes // PAGE_SIZE
    disk = k.machine.disk
    vl_mkswap(disk, start, nr_pages)
    return vl_swapon(k.swap, disk, start, swap_bytes // SECTOR_SIZE)


# ---- slot allocation -----------------------------------------------------------------------------


def scan_swap_map(sw: SwapState, si: SwapInfoStruct) -> int:
    """scan_swap_map(): take one free slot of ``si``; returns its offset, or 0 if full.

    First continue the current cluster from ``cluster_next``; when it is used up, look from
    ``lowest_bit`` for SWAPFILE_CLUSTER free slots in a row (not aligned) and start a new
    cluster there; failing that, take the first free slot (Andrea's "fine-grained" path).

    Caller: holds swap_device_lock(si).
    """
    smap = si.swap_map
    if si.cluster_nr:
        while si.cluster_next <= si.highest_bit:
            offset = si.cluster_next
            si.cluster_next += 1
            if smap[offset]:
                continue
            si.cluster_nr -= 1
            return _got_page(sw, si, offset)
    si.cluster_nr = SWAPFILE_CLUSTER
    offset = _find_empty_cluster(si)
    if offset > 0:
        return _got_page(sw, si, offset)
    offset = si.lowest_bit
    while offset <= si.highest_bit:
        if smap[offset] == 0:
            si.lowest_bit = offset + 1
            return _got_page(sw, si, offset)
        offset += 1
    si.lowest_bit = si.max
    si.highest_bit = 0
    return 0


def _find_empty_cluster(si: SwapInfoStruct) -> int:
    """scan_swap_map's ``check_next_cluster`` loop: the first run of SWAPFILE_CLUSTER free
    slots starting at or after lowest_bit and ending at or before highest_bit, or 0."""
    smap = si.swap_map
    offset = si.lowest_bit
    while offset + SWAPFILE_CLUSTER - 1 <= si.highest_bit:
        nr = offset
        end = offset + SWAPFILE_CLUSTER
        while nr < end and smap[nr] == 0:
            nr += 1
        if nr == end:
            return offset
        offset = nr + 1
    return 0


def _got_page(sw: SwapState, si: SwapInfoStruct, offset: int) -> int:
    """scan_swap_map's ``got_page`` tail: take ``offset`` and move the free-slot bounds."""
    if offset == si.lowest_bit:
        si.lowest_bit += 1
    if offset == si.highest_bit:
        si.highest_bit -= 1
    if si.lowest_bit > si.highest_bit:
        si.lowest_bit = si.max
        si.highest_bit = 0
    si.swap_map[offset] = 1
    si.inuse_pages += 1
    sw.nr_swap_pages -= 1
    si.cluster_next = offset + 1
    return offset


def vl_get_swap_page(sw: SwapState) -> int:
    """get_swap_page() on the swap globals: the entry of a new slot with count 1, or 0.

    Walks swap_list from ``swap_list_next``, round-robin among areas of equal priority.
    """
    type_ = sw.swap_list_next
    if type_ < 0 or sw.nr_swap_pages <= 0:
        return 0
    wrapped = False
    while True:
        p = sw.swap_info[type_]
        if (p.flags & SWP_ACTIVE) == SWP_ACTIVE:
            offset = scan_swap_map(sw, p)
            if offset:
                entry = swp_entry(type_, offset)
                nxt = p.next
                if nxt < 0 or p.prio != sw.swap_info[nxt].prio:
                    sw.swap_list_next = sw.swap_list_head
                else:
                    sw.swap_list_next = nxt
                return entry
        type_ = p.next
        if not wrapped:
            if type_ < 0 or p.prio != sw.swap_info[type_].prio:
                type_ = sw.swap_list_head
                wrapped = True
        elif type_ < 0:
            return 0


def get_swap_page(k: Kernel) -> int:
    """get_swap_page(): allocate a swap slot; returns its swp_entry_t value, or 0 if full."""
    return vl_get_swap_page(k.swap)


def swap_info_get(sw: SwapState, entry: int, what: str) -> SwapInfoStruct:
    """swap_info_get(): the area of an in-use entry.

    The kernel prints "swap_free: Unused swap offset entry" (and friends) and returns NULL for
    a bad entry; in the model a bad entry is a broken invariant.

    Raises:
        KernelBug: the entry is 0, names no area, is out of range, or its slot is free.
    """
    # The messages are formatted only when a check fails: this runs on every swap operation.
    if entry == 0:
        raise KernelBug(f"{what}: null swap entry")
    type_ = swp_type(entry)
    if type_ >= sw.nr_swapfiles:
        raise KernelBug(f"{what}: Bad swap file entry {entry:08x}")
    p = sw.swap_info[type_]
    if not (p.flags & SWP_USED):
        raise KernelBug(f"{what}: Unused swap file entry {entry:08x}")
    offset = swp_offset(entry)
    if offset >= p.max:
        raise KernelBug(f"{what}: Bad swap offset entry {entry:08x}")
    if p.swap_map[offset] == 0:
        raise KernelBug(f"{what}: Unused swap offset entry {entry:08x}")
    if sw.swap_list_next >= 0 and p.prio > sw.swap_info[sw.swap_list_next].prio:
        sw.swap_list_next = type_
    return p


def swap_entry_free(sw: SwapState, p: SwapInfoStruct, offset: int) -> int:
    """swap_entry_free(): drop one reference to a slot; returns the count left.

    A count at SWAP_MAP_MAX (or SWAP_MAP_BAD) is not changed. A slot that becomes free widens
    [lowest_bit, highest_bit] and is given back to nr_swap_pages.

    Caller: holds swap_device_lock(p); the slot is in use.
    """
    count = p.swap_map[offset]
    if count < SWAP_MAP_MAX:
        count -= 1
        p.swap_map[offset] = count
        if count == 0:
            if offset < p.lowest_bit:
                p.lowest_bit = offset
            if offset > p.highest_bit:
                p.highest_bit = offset
            sw.nr_swap_pages += 1
            p.inuse_pages -= 1
    return count


def vl_swap_free(sw: SwapState, entry: int) -> None:
    """swap_free() on the swap globals."""
    p = swap_info_get(sw, entry, "swap_free")
    swap_entry_free(sw, p, swp_offset(entry))


def swap_free(k: Kernel, entry: int) -> None:
    """swap_free(): drop one reference to the slot of ``entry``.

    Caller: holds a reference to the entry (a swap pte or the swap cache's).
    """
    vl_swap_free(k.swap, entry)


def vl_swap_duplicate(sw: SwapState, entry: int) -> int:
    """swap_duplicate() on the swap globals."""
    type_ = swp_type(entry)
    if type_ >= sw.nr_swapfiles:
        raise KernelBug(f"swap_dup: Bad swap file entry {entry:08x}")
    p = sw.swap_info[type_]
    offset = swp_offset(entry)
    if offset >= p.max or p.swap_map[offset] == 0:
        return 0
    count = p.swap_map[offset]
    if count < SWAP_MAP_MAX - 1:
        p.swap_map[offset] = count + 1
        return 1
    if count <= SWAP_MAP_MAX:
        sw.swap_overflow += 1
        p.swap_map[offset] = SWAP_MAP_MAX
        return 1
    return 0


def swap_duplicate(k: Kernel, entry: int) -> int:
    """swap_duplicate(): take one more reference to an in-use slot.

    Returns:
        1 on success; 0 if the slot is free (the entry went away: read_swap_cache_async's
        -ENOENT race).
    """
    return vl_swap_duplicate(k.swap, entry)


def valid_swaphandles(k: Kernel, entry: int) -> tuple[int, int]:
    """valid_swaphandles(): the readahead window around ``entry``.

    The window is the aligned block of 2**page_cluster slots holding the entry (skipping the
    header at slot 0), cut at the first free or bad slot.

    Returns:
        (number of slots to read, first offset); (0, 0) when readahead is off.
    """
    sw = k.swap
    page_cluster = k.lru_pvecs.page_cluster
    if page_cluster == 0:
        return (0, 0)
    si = sw.swap_info[swp_type(entry)]
    i = 1 << page_cluster
    toff = (swp_offset(entry) >> page_cluster) << page_cluster
    if toff == 0:
        toff += 1
        i -= 1
    first = toff
    ret = 0
    while i > 0:
        if toff >= si.max or si.swap_map[toff] == 0 or si.swap_map[toff] == SWAP_MAP_BAD:
            break
        toff += 1
        ret += 1
        i -= 1
    return (ret, first)


def map_swap_page(si: SwapInfoStruct, offset: int) -> int:
    """map_swap_page(): the disk sector of slot ``offset`` (one extent covering the area)."""
    bug_on(offset <= 0 or offset >= si.max, "map_swap_page: offset outside the area")
    return si.start_sector + offset * SECTORS_PER_PAGE


def vl_entry_sector(k: Kernel, entry: int) -> int:
    """The first disk sector of the slot an entry names (for I/O and the data oracle)."""
    return map_swap_page(k.swap.swap_info[swp_type(entry)], swp_offset(entry))


# ---- sharing swap-cache pages --------------------------------------------------------------------


def exclusive_swap_page(k: Kernel, page: Page) -> int:
    """exclusive_swap_page(): is the swap cache the only user of the page's slot?

    True when the slot's count is 1 (the cache's own reference) and, rechecked under
    swapper_space.tree_lock, the page count is 2 (cache + caller).

    Caller: holds the page lock; the page is in the swap cache.
    """
    entry = page_swp_entry(k, page)
    p = swap_info_get(k.swap, entry, "exclusive_swap_page")
    if p.swap_map[swp_offset(entry)] == 1 and page_count(page) == 2:
        return 1
    return 0


def can_share_swap_page(k: Kernel, page: Page) -> int:
    """can_share_swap_page(): may a COW or swapin fault reuse ``page`` writably?

    Yes if the page count is 1 and the page is not reserved; or if it is a swap-cache page
    with count 2 (3 with PG_private) whose slot has no other user (exclusive_swap_page).

    Caller: holds the page lock.
    """
    bug_on(not PageLocked(page), "can_share_swap_page: page not locked")
    count = page_count(page)
    if count == 3 and not PagePrivate(page):
        return 0
    if count == 2 or count == 3:
        if not PageSwapCache(page):
            return 0
        return exclusive_swap_page(k, page)
    if count == 1:
        return 0 if PageReserved(page) else 1
    return 0


def remove_exclusive_swap_page(k: Kernel, page: Page) -> int:
    """remove_exclusive_swap_page(): drop the page from the swap cache if nobody else uses
    its slot; the page becomes dirty (its only copy is now in memory).

    Returns:
        1 when the page was removed (its slot freed and the cache's reference dropped).

    Caller: holds the page lock and a reference (so page count 2 = caller + cache).
    """
    from kernelmodel.mm.swap_state import _delete_from_swap_cache

    bug_on(PagePrivate(page), "remove_exclusive_swap_page: PagePrivate")
    bug_on(not PageLocked(page), "remove_exclusive_swap_page: page not locked")
    if not PageSwapCache(page) or PageWriteback(page) or page_count(page) != 2:
        return 0
    entry = page_swp_entry(k, page)
    sw = k.swap
    p = swap_info_get(sw, entry, "remove_exclusive_swap_page")
    if p.swap_map[swp_offset(entry)] != 1:
        return 0
    if page_count(page) != 2 or PageWriteback(page):
        return 0
    _delete_from_swap_cache(k, page)
    SetPageDirty(page)
    vl_swap_free(sw, entry)
    _page_cache_release(k, page)
    return 1


def free_swap_and_cache(k: Kernel, entry: int) -> None:
    """free_swap_and_cache(): drop a swap pte's reference to its slot (zap, exit).

    If only the swap cache still holds the slot and its page can be locked at once, the page
    leaves the swap cache too when nobody else uses it or swap is more than half full.

    Caller: the unmap path, for each swap pte it clears.
    """
    from kernelmodel.mm.swap_state import delete_from_swap_cache, vl_swapper_lookup

    sw = k.swap
    p = swap_info_get(sw, entry, "free_swap_and_cache")
    page: Page | None = None
    if swap_entry_free(sw, p, swp_offset(entry)) == 1:
        page = vl_swapper_lookup(k, entry)
        if page is not None and TestSetPageLocked(page):
            page = None
    if page is None:
        return
    bug_on(PagePrivate(page), "free_swap_and_cache: PagePrivate")
    get_page(page)
    one_user = page_count(page) == 2
    if not PageWriteback(page) and (one_user or vm_swap_full(k)):
        delete_from_swap_cache(k, page)
        SetPageDirty(page)
    _unlock_page(k, page)
    _page_cache_release(k, page)


def _unlock_page(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.pagemap import unlock_page

    unlock_page(k, page)


def _page_cache_release(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)


# ---- global figures ------------------------------------------------------------------------------


def vm_swap_full(k: Kernel) -> bool:
    """vm_swap_full(): more than half of swap is in use."""
    sw = k.swap
    return sw.nr_swap_pages * 2 < sw.total_swap_pages


def nr_swap_pages(k: Kernel) -> int:
    """nr_swap_pages: free swap slots."""
    return k.swap.nr_swap_pages


def total_swap_pages(k: Kernel) -> int:
    """total_swap_pages: usable swap slots."""
    return k.swap.total_swap_pages


def si_swapinfo(k: Kernel) -> tuple[int, int]:
    """si_swapinfo(): (freeswap, totalswap) in pages (no area is being swapped off)."""
    sw = k.swap
    return (sw.nr_swap_pages, sw.total_swap_pages)


# ---- checks --------------------------------------------------------------------------------------


def vl_check_swap_map(sw: SwapState) -> list[str]:
    """Check the invariants of the module docstring; returns problems as text."""
    out: list[str] = []
    inuse_total = 0
    for type_, si in enumerate(sw.swap_info):
        if not (si.flags & SWP_USED):
            continue
        where = f"swap area {type_}"
        smap = si.swap_map
        if len(smap) != si.max:
            out.append(f"{where}: swap_map has {len(smap)} slots, max is {si.max}")
            continue
        if si.max > 0 and smap[0] != SWAP_MAP_BAD:
            out.append(f"{where}: slot 0 (the header) is not SWAP_MAP_BAD")
        inuse = 0
        for off in range(si.max):
            cnt = smap[off]
            if cnt == SWAP_MAP_BAD:
                continue
            if cnt < 0 or cnt > SWAP_MAP_MAX:
                out.append(f"{where}: slot {off} has count {cnt}")
            if cnt != 0:
                inuse += 1
            elif not si.lowest_bit <= off <= si.highest_bit:
                out.append(
                    f"{where}: free slot {off} outside [{si.lowest_bit}, {si.highest_bit}]"
                )
        if inuse != si.inuse_pages:
            out.append(f"{where}: inuse_pages {si.inuse_pages} but {inuse} slots in use")
        if si.lowest_bit > si.highest_bit and not (si.lowest_bit == si.max and si.highest_bit == 0):
            out.append(f"{where}: lowest_bit {si.lowest_bit} > highest_bit {si.highest_bit}")
        inuse_total += inuse
    areas = sorted((si.start_sector, si.max) for si in sw.swap_info if si.flags & SWP_USED)
    for i in range(1, len(areas)):
        if areas[i - 1][0] + areas[i - 1][1] * SECTORS_PER_PAGE > areas[i][0]:
            out.append(f"swap areas at sectors {areas[i - 1][0]} and {areas[i][0]} overlap")
    if sw.nr_swap_pages != sw.total_swap_pages - inuse_total:
        out.append(
            f"nr_swap_pages {sw.nr_swap_pages} != total {sw.total_swap_pages} - in use "
            f"{inuse_total}"
        )
    return out
