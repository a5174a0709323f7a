"""Tests for kernelmodel/mm/page_alloc.py: boot, buddy, watermarks, __alloc_pages passes, LRU."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelmodel.include.bug import KernelBug
from kernelmodel.include.mm_inline import (
    add_page_to_active_list,
    add_page_to_inactive_list,
    del_page_from_active_list,
    del_page_from_inactive_list,
    del_page_from_lru,
    vl_check_lru,
    vl_lru_head,
    vl_lru_list,
    vl_lru_move_tail,
    vl_lru_next,
    vl_lru_prev,
    vl_lru_tail,
)
from kernelmodel.include.mmzone import MAX_ORDER, PageAllocator, vl_free_blocks, vl_free_list
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    LRU_NONE,
    M_active,
    M_lru,
    M_reserved,
    MemMap,
    Page,
    PageDirty,
    PageReserved,
    SetPageActive,
    SetPageDirty,
    SetPageLocked,
    SetPageLRU,
    SetPageWriteback,
    page_count,
)
from kernelmodel.include.state_generated import (
    load_mem_map,
    load_page_allocator,
    load_zone,
    save_mem_map,
    save_page_allocator,
    save_zone,
)
from kernelmodel.include.vmstat import PageState
from kernelmodel.mm import page_alloc as pa
from kernelmodel.mm.page_alloc import (
    GFP_ATOMIC,
    GFP_HIGHUSER,
    GFP_KERNEL,
    GFP_NOFS,
    GFP_NOIO,
    GFP_USER,
    _free_pages,
    _free_pages_bulk,
    alloc_pages,
    free_pages,
    init_per_zone_pages_min,
    min_free_kbytes_sysctl_handler,
    nr_free_pages,
    vl_alloc_after_reclaim,
    vl_alloc_fast,
    vl_alloc_no_watermarks,
    vl_boot,
    vl_check_free_accounting,
    vl_should_retry,
    zone_watermark_ok,
)
from machine.physmem import PhysicalMemory


def canonical_blocks(first_free: int, nframes: int) -> list[tuple[int, int]]:
    """The maximal buddy blocks covering frames first_free .. nframes-1 (pfn order)."""
    out: list[tuple[int, int]] = []
    pfn = first_free
    while pfn < nframes:
        order = MAX_ORDER - 1
        while pfn % (1 << order) or pfn + (1 << order) > nframes:
            order -= 1
        out.append((pfn, order))
        pfn += 1 << order
    return out


def check_all(alloc: PageAllocator) -> None:
    vl_check_free_accounting(alloc.zone, alloc.mem_map)
    vl_check_lru(alloc.zone, alloc.mem_map)


# ---- constants ---------------------------------------------------------------------------------


def test_gfp_values_are_2_6_6() -> None:
    assert (pa._GFP_WAIT, pa._GFP_HIGH, pa._GFP_IO, pa._GFP_FS) == (0x10, 0x20, 0x40, 0x80)
    assert (pa._GFP_DMA, pa._GFP_HIGHMEM, pa._GFP_COLD, pa._GFP_NOWARN) == (1, 2, 0x100, 0x200)
    assert (pa._GFP_REPEAT, pa._GFP_NOFAIL, pa._GFP_NORETRY) == (0x400, 0x800, 0x1000)
    assert GFP_ATOMIC == 0x20
    assert GFP_NOIO == 0x10
    assert GFP_NOFS == 0x50
    assert GFP_KERNEL == GFP_USER == 0xD0
    assert GFP_HIGHUSER == 0xD2
    assert MAX_ORDER == 11


# ---- boot --------------------------------------------------------------------------------------


def test_boot_reserves_frame_zero_and_kernel_image() -> None:
    ps = PageState()
    alloc = vl_boot(1000, 37, ps)
    mm = alloc.mem_map
    reserved = [p.pfn for p in mm.pages if PageReserved(p)]
    assert reserved == list(range(38))
    assert nr_free_pages(alloc) == 1000 - 38
    assert ps.pgfree == 1000 - 38 and ps.pgalloc == 0
    assert vl_free_blocks(alloc.zone) == canonical_blocks(38, 1000)
    assert all(page_count(p) == 0 for p in mm.pages)
    check_all(alloc)
    # __free_pages never frees a reserved page (nor drops its count).
    zero = mm.pages[0]
    zero._count = 1
    _free_pages(alloc, zero, 0)
    assert page_count(zero) == 1 and nr_free_pages(alloc) == 1000 - 38


def test_boot_needs_a_free_frame() -> None:
    with pytest.raises(KernelBug):
        vl_boot(8, 7)


def test_boot_list_order_is_the_kernels() -> None:
    # Frames freed in pfn order merge upwards; each merged block goes to the list head.
    alloc = vl_boot(4096, 0)
    assert vl_free_list(alloc.zone, MAX_ORDER - 1) == [3072, 2048, 1024]
    assert vl_free_list(alloc.zone, 0) == [1]
    assert vl_free_list(alloc.zone, 9) == [512]


@pytest.mark.parametrize(("nframes", "kernel"), [
    (1000, 37), (4096, 0), (4096, 1023), (5000, 1), (6144 + 7, 300), (3 * 1024 + 1, 1024),
])
def test_boot_equals_freeing_frame_by_frame(nframes: int, kernel: int) -> None:
    """free_all_bootmem builds the buddy lists at once; freeing each frame in pfn order
    through __free_pages_bulk (as the kernel does) leaves the same zone, links included."""
    alloc = vl_boot(nframes, kernel)
    slow = pa.PageAllocator(MemMap(nframes), PageState(), None, False)
    pa.memmap_init(slow.zone)
    for pfn in range(kernel + 1, nframes):
        page = slow.mem_map.pages[pfn]
        page.flags &= ~M_reserved
        pa.free_pages_check("free_all_bootmem", page)
        slow.ps.pgfree += 1
        pa.free_pages_bulk(slow.zone, pfn, 0)
    pa.init_per_zone_pages_min(slow)
    assert save_zone(alloc.zone) == save_zone(slow.zone)
    assert save_mem_map(alloc.mem_map) == save_mem_map(slow.mem_map)
    assert alloc.ps.pgfree == slow.ps.pgfree


def test_expand_hands_out_the_top_of_a_block() -> None:
    alloc = vl_boot(2048, 1023)  # one free order-10 block: frames 1024..2047
    assert vl_free_blocks(alloc.zone) == [(1024, 10)]
    page = alloc_pages(alloc, GFP_ATOMIC, 0)
    assert page is not None and page.pfn == 2047 and page_count(page) == 1
    assert vl_free_blocks(alloc.zone) == [(1024 + 1024 - (2 << k), k) for k in range(9, -1, -1)]
    nxt = vl_alloc_no_watermarks(alloc, GFP_KERNEL, 0)  # the order-0 half left by expand
    assert nxt is not None and nxt.pfn == 2046
    check_all(alloc)


# ---- watermarks --------------------------------------------------------------------------------

# RAM size -> (min_free_kbytes, pages_min, pages_low, pages_high), from 2.6.6's formula:
# min_free_kbytes = int_sqrt(lowmem_kbytes) clamped to [128, 16384]; pages_min = kbytes/4;
# low = 2 * min; high = 3 * min.
WATERMARKS = {
    4: (128, 32, 64, 96),  # int_sqrt(4096) = 64, clamped up to 128
    16: (128, 32, 64, 96),  # int_sqrt(16384) = 128
    32: (181, 45, 90, 135),  # int_sqrt(32768) = 181
    64: (256, 64, 128, 192),  # int_sqrt(65536) = 256
    128: (362, 90, 180, 270),  # int_sqrt(131072) = 362
    256: (512, 128, 256, 384),  # int_sqrt(262144) = 512
}


@pytest.mark.parametrize(("mib", "expect"), sorted(WATERMARKS.items()))
def test_watermarks(mib: int, expect: tuple[int, int, int, int]) -> None:
    alloc = PageAllocator(MemMap(mib * 256))
    init_per_zone_pages_min(alloc)
    z = alloc.zone
    assert (alloc.min_free_kbytes, z.pages_min, z.pages_low, z.pages_high) == expect
    assert z.protection == [0, z.pages_low, z.pages_low]


def test_min_free_kbytes_sysctl() -> None:
    alloc = vl_boot(4096, 10)
    min_free_kbytes_sysctl_handler(alloc, 1024)
    z = alloc.zone
    assert (z.pages_min, z.pages_low, z.pages_high) == (256, 512, 768)
    assert z.protection[z.zone_idx] == 512


# ---- __alloc_pages passes ----------------------------------------------------------------------


def drain_to(alloc: PageAllocator, free: int) -> list[Page]:
    """Allocate order-0 pages, ignoring watermarks, until ``free`` pages remain."""
    taken: list[Page] = []
    while nr_free_pages(alloc) > free:
        page = vl_alloc_no_watermarks(alloc, GFP_KERNEL, 0)
        assert page is not None
        taken.append(page)
    return taken


def pending_wakeup(alloc: PageAllocator) -> bool:
    return alloc.kswapd_wakeup_pending


def test_first_pass_keeps_pages_low_free() -> None:
    alloc = vl_boot(4096, 100)  # 16 MiB: low = 64, high = 96
    drain_to(alloc, 65)
    assert zone_watermark_ok(alloc.zone, 0, 64)
    assert vl_alloc_fast(alloc, GFP_KERNEL, 0) is not None  # 65 >= 1 + 64
    assert pending_wakeup(alloc) is False
    assert nr_free_pages(alloc) == 64
    assert vl_alloc_fast(alloc, GFP_KERNEL, 0) is None
    assert pending_wakeup(alloc) is True  # free (64) <= pages_low
    assert vl_alloc_after_reclaim(alloc, GFP_KERNEL, 0) is None
    assert vl_alloc_fast(alloc, GFP_KERNEL, 0, rt_task=True) is not None  # rt dips low/2
    assert vl_should_retry(GFP_KERNEL, 0)


def test_gfp_high_dips_a_quarter_of_pages_low() -> None:
    alloc = vl_boot(4096, 100)
    drain_to(alloc, 64)
    got = 0
    while vl_alloc_fast(alloc, GFP_ATOMIC, 0) is not None:
        got += 1
    assert nr_free_pages(alloc) == 48  # stops once free < 1 + (64 - 64/4)
    assert got == 16
    assert alloc.ps.pgalloc == 4096 - 101 - 48


def test_higher_order_needs_more_free() -> None:
    alloc = vl_boot(4096, 100)
    drain_to(alloc, 67)
    assert vl_alloc_fast(alloc, GFP_KERNEL, 2) is None  # 67 < 4 + 64
    assert vl_alloc_fast(alloc, GFP_KERNEL, 1) is not None  # 67 >= 2 + 64


def test_no_wait_allocation_may_use_pages_high() -> None:
    alloc = vl_boot(4096, 100)
    drain_to(alloc, 150)
    z = alloc.zone
    z.protection[z.zone_idx] = 200  # as if a higher zone protected this one
    assert vl_alloc_fast(alloc, GFP_KERNEL, 0) is None
    assert vl_alloc_fast(alloc, GFP_ATOMIC & ~pa._GFP_HIGH, 0) is not None  # !wait, >= high


def test_pf_memalloc_ignores_the_minimums() -> None:
    alloc = vl_boot(1024, 10)
    drain_to(alloc, 3)
    assert pa._alloc_pages(alloc, GFP_KERNEL, 0) is None
    for _ in range(3):
        assert pa._alloc_pages(alloc, GFP_KERNEL, 0, pf_memalloc=True) is not None
    assert pa._alloc_pages(alloc, GFP_KERNEL, 0, pf_memalloc=True) is None
    assert nr_free_pages(alloc) == 0


def test_fragmented_zone_fails_despite_watermark() -> None:
    alloc = vl_boot(4096, 0)
    pages = drain_to(alloc, 0)
    for page in pages:
        if page.pfn % 2 == 0:
            _free_pages(alloc, page, 0)
    assert nr_free_pages(alloc) > 1000
    assert alloc_pages(alloc, GFP_KERNEL, 1) is None
    assert alloc_pages(alloc, GFP_KERNEL, 0) is not None


def test_should_retry_rules() -> None:
    assert vl_should_retry(GFP_KERNEL, 3)
    assert not vl_should_retry(GFP_KERNEL, 4)
    assert vl_should_retry(GFP_KERNEL | pa._GFP_REPEAT, 4)
    assert vl_should_retry(GFP_KERNEL | pa._GFP_NOFAIL, 9)
    assert not vl_should_retry(GFP_KERNEL | pa._GFP_NORETRY, 0)


def test_swapped_arguments_are_caught() -> None:
    alloc = vl_boot(256, 1)
    with pytest.raises(KernelBug, match="order"):
        vl_alloc_fast(alloc, 0, GFP_KERNEL)  # (order, gfp) instead of (gfp, order)


# ---- the buddy against a model -----------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(64, 3000),
    st.integers(0, 40),
    st.lists(st.tuples(st.booleans(), st.integers(0, MAX_ORDER - 1), st.integers(0, 10**6))),
)
def test_buddy_against_model(
    nframes: int, nr_kernel: int, ops: list[tuple[bool, int, int]]
) -> None:
    alloc = vl_boot(nframes, nr_kernel)
    zone = alloc.zone
    boot_blocks = vl_free_blocks(zone)
    in_use: list[tuple[int, int]] = []  # (pfn, order)
    used = [False] * nframes
    for pfn in range(nr_kernel + 1):
        used[pfn] = True
    for is_alloc, order, pick in ops:
        if is_alloc or not in_use:
            page = vl_alloc_no_watermarks(alloc, GFP_KERNEL, order)
            if page is None:
                assert all(zone.free_area[k].nr_free == 0 for k in range(order, MAX_ORDER))
                continue
            pfn = page.pfn
            assert pfn % (1 << order) == 0 and pfn + (1 << order) <= nframes
            assert page_count(page) == 1
            for f in range(pfn, pfn + (1 << order)):
                assert not used[f], "allocated a frame twice"
                used[f] = True
            in_use.append((pfn, order))
        else:
            pfn, order = in_use.pop(pick % len(in_use))
            free_pages(alloc, pfn, order)
            for f in range(pfn, pfn + (1 << order)):
                used[f] = False
        assert nr_free_pages(alloc) == used.count(False)
        vl_check_free_accounting(zone, alloc.mem_map)
    for pfn, order in in_use:
        free_pages(alloc, pfn, order)
    assert sorted(vl_free_blocks(zone)) == boot_blocks
    assert nr_free_pages(alloc) == nframes - nr_kernel - 1
    vl_check_free_accounting(zone, alloc.mem_map)


# ---- free-page checks --------------------------------------------------------------------------


def _one_page(alloc: PageAllocator) -> Page:
    page = vl_alloc_no_watermarks(alloc, GFP_KERNEL, 0)  # tiny zones sit below pages_low
    assert page is not None
    return page


@pytest.mark.parametrize(
    "spoil",
    ["lru", "locked", "writeback", "active", "mapped", "mapping", "count"],
)
def test_free_pages_check_bugs(spoil: str) -> None:
    alloc = vl_boot(512, 4)
    page = _one_page(alloc)
    if spoil == "lru":
        SetPageLRU(page)
    elif spoil == "locked":
        SetPageLocked(page)
    elif spoil == "writeback":
        SetPageWriteback(page)
    elif spoil == "active":
        SetPageActive(page)
    elif spoil == "mapped":
        page._mapcount = 1
    elif spoil == "mapping":
        page.mapping = object()
    elif spoil == "count":
        page._count = 2  # one put leaves 1: not freed; free it directly to hit the check
        with pytest.raises(KernelBug, match="bad page state"):
            pa._free_pages_ok(alloc, page, 0)
        return
    with pytest.raises(KernelBug, match="__free_pages_ok: bad page state"):
        _free_pages(alloc, page, 0)


def test_dirty_page_is_cleaned_on_free_and_caught_on_allocation() -> None:
    # 2.6.6 free_pages_check clears PG_dirty (an anonymous page may die dirty) ...
    alloc = vl_boot(512, 4)
    page = _one_page(alloc)
    SetPageDirty(page)
    _free_pages(alloc, page, 0)
    assert not PageDirty(page)
    vl_check_free_accounting(alloc.zone, alloc.mem_map)
    # ... and prep_new_page reports a dirty page found on the free lists.
    head = vl_free_list(alloc.zone, 0)[0]
    SetPageDirty(alloc.mem_map.pages[head])
    with pytest.raises(KernelBug, match="prep_new_page: bad page state"):
        alloc_pages(alloc, GFP_KERNEL, 0)


def test_double_free_is_a_bug() -> None:
    alloc = vl_boot(512, 4)
    page = _one_page(alloc)
    _free_pages(alloc, page, 0)
    with pytest.raises(KernelBug):
        _free_pages(alloc, page, 0)  # put_page_testzero on a zero count
    pfn, order = vl_free_blocks(alloc.zone)[-1]
    with pytest.raises(KernelBug, match="already free"):
        _free_pages_bulk(alloc.zone, pfn, order)


def test_free_resets_reclaim_state() -> None:
    alloc = vl_boot(512, 4)
    page = _one_page(alloc)
    alloc.zone.all_unreclaimable = 1
    alloc.zone.pages_scanned = 99
    _free_pages(alloc, page, 0)
    assert alloc.zone.all_unreclaimable == 0 and alloc.zone.pages_scanned == 0


def test_prep_new_page_clears_transient_state() -> None:
    alloc = vl_boot(512, 4)
    page = _one_page(alloc)
    page.flags |= (1 << 3) | (1 << 1) | (1 << 2) | (1 << 17)  # uptodate error referenced m2d
    page.private = 5
    _free_pages(alloc, page, 0)
    again = _one_page(alloc)
    assert again is page and again.flags == 0 and again.private == 0


def test_poisoning_fills_freed_frames() -> None:
    mem = PhysicalMemory(256)
    alloc = vl_boot(256, 4, physmem=mem, poison=True)
    assert all(mem.frame_is_zero(pfn) for pfn in range(256))  # boot frees are not poisoned
    page = alloc_pages(alloc, GFP_KERNEL, 1)
    assert page is not None
    mem.write(page.pfn * 4096, b"data")
    _free_pages(alloc, page, 1)
    for pfn in (page.pfn, page.pfn + 1):
        assert mem.frame_bytes(pfn) == bytes([pa.POISON_FREE_BYTE]) * 4096
    with pytest.raises(KernelBug):
        PageAllocator(MemMap(4), poison=True)
    state = save_page_allocator(alloc)
    mm = load_mem_map(save_mem_map(alloc.mem_map))
    back = load_page_allocator(state, mm, physmem=mem)
    assert back.poison and save_page_allocator(back) == state
    # loading a poisoning allocator without the RAM to poison is the caller's bug (a restore
    # always passes the machine's): the constructor's own check refuses it
    with pytest.raises(KernelBug, match="physmem"):
        load_page_allocator(state, mm)


# ---- LRU lists ---------------------------------------------------------------------------------


def test_lru_list_discipline() -> None:
    alloc = vl_boot(256, 4)
    zone = alloc.zone
    pages = [_one_page(alloc) for _ in range(3)]
    for page in pages:
        SetPageLRU(page)
        add_page_to_inactive_list(zone, page)
    a, b, c = (p.pfn for p in pages)
    assert vl_lru_list(zone, False) == [c, b, a]  # new pages at the head
    assert vl_lru_tail(zone, False) == a and vl_lru_head(zone, False) == c
    assert vl_lru_prev(zone, a) == b and vl_lru_prev(zone, c) == -1
    assert vl_lru_next(zone, c) == b and vl_lru_next(zone, a) == -1
    vl_lru_move_tail(zone, pages[2])  # rotate_reclaimable_page
    assert vl_lru_list(zone, False) == [b, a, c]
    del_page_from_inactive_list(zone, pages[1])  # activate_page
    SetPageActive(pages[1])
    add_page_to_active_list(zone, pages[1])
    assert vl_lru_list(zone, True) == [b] and pages[1].lru == LRU_ACTIVE
    assert (zone.nr_active, zone.nr_inactive) == (1, 2)
    check_all(alloc)
    del_page_from_lru(zone, pages[1])
    assert not (pages[1].flags & M_active) and pages[1].lru == LRU_NONE
    assert vl_lru_tail(zone, True) == -1 and zone.nr_active == 0
    with pytest.raises(KernelBug):
        del_page_from_active_list(zone, pages[0])  # it is on the inactive list
    with pytest.raises(KernelBug):
        add_page_to_active_list(zone, pages[0])  # already on a list


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 11)), max_size=60))
def test_lru_against_list_model(ops: list[tuple[int, int]]) -> None:
    alloc = vl_boot(64, 2)
    zone = alloc.zone
    pages = [_one_page(alloc) for _ in range(12)]
    active: list[int] = []
    inactive: list[int] = []
    for op, i in ops:
        page = pages[i]
        pfn = page.pfn
        on = pfn in active or pfn in inactive
        if op == 0 and not on:
            page.flags |= M_lru | M_active
            add_page_to_active_list(zone, page)
            active.insert(0, pfn)
        elif op == 1 and not on:
            page.flags |= M_lru
            add_page_to_inactive_list(zone, page)
            inactive.insert(0, pfn)
        elif op == 2 and on:
            del_page_from_lru(zone, page)
            page.flags &= ~M_lru
            (active if pfn in active else inactive).remove(pfn)
        elif op == 3 and on:
            vl_lru_move_tail(zone, page)
            lst = active if pfn in active else inactive
            lst.remove(pfn)
            lst.append(pfn)
        elif op == 4 and pfn in inactive:
            del_page_from_inactive_list(zone, page)
            page.flags |= M_active
            add_page_to_active_list(zone, page)
            inactive.remove(pfn)
            active.insert(0, pfn)
        assert vl_lru_list(zone, True) == active
        assert vl_lru_list(zone, False) == inactive
        for lst, is_active in ((active, True), (inactive, False)):
            assert vl_lru_tail(zone, is_active) == (lst[-1] if lst else -1)
            walk: list[int] = []
            pfn_at = vl_lru_tail(zone, is_active)
            while pfn_at >= 0:
                walk.append(pfn_at)
                pfn_at = vl_lru_prev(zone, pfn_at)
            assert walk == lst[::-1]
        check_all(alloc)


def test_checker_catches_corruption() -> None:
    alloc = vl_boot(256, 4)
    zone = alloc.zone
    zone.free_pages += 1
    with pytest.raises(KernelBug, match="free_pages"):
        vl_check_free_accounting(zone, alloc.mem_map)
    zone.free_pages -= 1
    head = vl_free_list(zone, 0)[0] if zone.free_area[0].nr_free else vl_free_blocks(zone)[0][0]
    alloc.mem_map.pages[head]._count = 1
    with pytest.raises(KernelBug, match="count != 0"):
        vl_check_free_accounting(zone, alloc.mem_map)
    alloc.mem_map.pages[head]._count = 0
    page = _one_page(alloc)
    SetPageLRU(page)  # PG_lru without being on a list
    with pytest.raises(KernelBug, match="PG_lru"):
        vl_check_lru(zone, alloc.mem_map)
    add_page_to_inactive_list(zone, page)
    vl_check_lru(zone, alloc.mem_map)
    zone.nr_inactive = 5
    with pytest.raises(KernelBug, match="nr_inactive"):
        vl_check_lru(zone, alloc.mem_map)


# ---- state -------------------------------------------------------------------------------------


def _plain(value: object) -> bool:
    if isinstance(value, bool | int | str | bytes):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 4), st.integers(0, 10**6)), max_size=40))
def test_state_round_trip(ops: list[tuple[bool, int, int]]) -> None:
    ps = PageState()
    alloc = vl_boot(300, 9, ps)
    in_use: list[tuple[int, int]] = []
    for is_alloc, order, pick in ops:
        if is_alloc or not in_use:
            page = alloc_pages(alloc, GFP_KERNEL, order)
            if page is not None:
                in_use.append((page.pfn, order))
                if order == 0 and pick % 3:
                    page.flags |= M_lru | (M_active if pick % 3 == 1 else 0)
                    if pick % 3 == 1:
                        add_page_to_active_list(alloc.zone, page)
                    else:
                        add_page_to_inactive_list(alloc.zone, page)
        else:
            pfn, order = in_use.pop(pick % len(in_use))
            page = alloc.mem_map.pages[pfn]
            if page.lru != LRU_NONE:
                del_page_from_lru(alloc.zone, page)
                page.flags &= ~M_lru
            free_pages(alloc, pfn, order)
    alloc.zone.nr_scan_active = 7
    alloc.kswapd_wakeup_pending = True
    state = save_page_allocator(alloc)
    assert _plain(state)
    mm_state = save_mem_map(alloc.mem_map)
    mm = load_mem_map(mm_state)
    back = load_page_allocator(state, mm, ps)
    assert save_page_allocator(back) == state
    check_all(back)
    # Both copies now behave identically.
    for order in (0, 3, 1, 0, 5):
        a = alloc_pages(alloc, GFP_ATOMIC, order)
        b = alloc_pages(back, GFP_ATOMIC, order)
        assert (a.pfn if a else -1) == (b.pfn if b else -1)
    assert save_page_allocator(back) == save_page_allocator(alloc)
    assert save_mem_map(mm) == save_mem_map(alloc.mem_map)


def test_zone_state_rejects_bad_input() -> None:
    alloc = vl_boot(128, 1)
    state = save_zone(alloc.zone)
    state["free_order"] = [0]
    with pytest.raises(ValueError, match="free_order"):
        load_zone(state, alloc.mem_map)


def test_inactive_page_ids() -> None:
    alloc = vl_boot(128, 1)
    page = _one_page(alloc)
    SetPageLRU(page)
    add_page_to_inactive_list(alloc.zone, page)
    assert page.lru == LRU_INACTIVE
    assert "free:" in repr(alloc.zone) and "pgdat" in repr(alloc)
