"""Tests for kernelmodel/mm/filemap.py (the page cache, readpage, readahead, the fault path) and
for truncate_inode_pages (kernelmodel/mm/truncate.py)."""

from __future__ import annotations

import pytest
from test_fs import Driver, boot_kernel, new_task

from kernelmodel.fs.fs import vl_create_file, vl_new_inode
from kernelmodel.fs.state_generated import load_address_space, save_address_space
from kernelmodel.include.bug import KernelBug
from kernelmodel.include.page import (
    Page,
    PageDirty,
    PageLocked,
    PageUptodate,
    SetPageAnon,
    SetPageUptodate,
    page_count,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING
from kernelmodel.kernel.wait import page_locked_key
from kernelmodel.lib.radix_tree import radix_tree_tag_set
from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page
from kernelmodel.mm.filemap import (
    AS_ENOSPC,
    FLP_ABSENT,
    FLP_BLOCKED,
    FLP_FOUND,
    PAGECACHE_TAG_DIRTY,
    VM_MAX_READAHEAD_PAGES,
    AddressSpace,
    add_to_page_cache,
    add_to_page_cache_lru,
    do_page_cache_readahead,
    find_get_page,
    find_get_pages,
    find_get_pages_tag,
    mapping_set_error,
    mapping_test_clear_error,
    page_mapping,
    remove_from_page_cache,
    vl_filemap_nopage,
    vl_find_lock_page,
    vl_find_page_nolock,
    vl_ra_window,
)
from kernelmodel.mm.page_alloc import GFP_HIGHUSER
from kernelmodel.mm.page_writeback import set_page_dirty, set_page_writeback
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.mm.truncate import TruncateInodePagesOp
from kernelmodel.oracle.oracle import oracle_file_expected, oracle_file_truncate, oracle_file_write

_SMALL = {"mem_mb": 4, "disk_mb": 16, "swap_mb": 4}


def _page(k: Kernel) -> Page:
    page = vl_alloc_page(k, GFP_HIGHUSER)
    assert page is not None
    return page


def _drain(k: Kernel) -> None:
    n = 0
    while k.machine.disk.queue_depth > 0:
        assert k.machine.step()
        n += 1
        assert n < 100_000


def _cached(k: Kernel, mapping: AddressSpace, index: int) -> Page:
    """An uptodate, unlocked page at ``index`` holding only the cache's reference."""
    page = _page(k)
    assert add_to_page_cache_lru(k, page, mapping, index) == 0
    SetPageUptodate(page)
    unlock_page(k, page)
    page_cache_release(k, page)
    lru_add_drain(k)
    return page


def test_add_find_remove() -> None:
    k = boot_kernel(**_SMALL)
    mapping = vl_new_inode(k, "f").i_mapping
    page = _page(k)
    assert add_to_page_cache(k, page, mapping, 5) == 0
    assert PageLocked(page) and page.mapping is mapping and page.index == 5
    assert page_count(page) == 2 and mapping.nrpages == 1 and k.vmstat.nr_pagecache == 1
    other = _page(k)
    assert add_to_page_cache(k, other, mapping, 5) == -17
    assert other.mapping is None and page_count(other) == 1
    assert vl_find_page_nolock(mapping, 5) is page and page_count(page) == 2
    assert find_get_page(mapping, 5) is page and page_count(page) == 3
    assert find_get_page(mapping, 6) is None
    assert page_mapping(page) is mapping
    unlock_page(k, page)
    with pytest.raises(KernelBug):
        remove_from_page_cache(k, page)
    page.flags |= 1
    remove_from_page_cache(k, page)
    assert page.mapping is None and mapping.nrpages == 0 and k.vmstat.nr_pagecache == 0
    assert "inode" in repr(mapping) or "address_space" in repr(mapping)


def test_page_mapping_is_null_for_anon_pages() -> None:
    k = boot_kernel(**_SMALL)
    page = _page(k)
    SetPageAnon(page)
    assert page_mapping(page) is None


def test_find_get_pages_and_tag_lookup() -> None:
    k = boot_kernel(**_SMALL)
    mapping = vl_new_inode(k, "f").i_mapping
    pages = [_cached(k, mapping, i) for i in (1, 3, 4, 9)]
    got = find_get_pages(mapping, 2, 2)
    assert got == [pages[1], pages[2]] and page_count(pages[1]) == 2
    for i in (3, 9):
        radix_tree_tag_set(mapping.page_tree, i, PAGECACHE_TAG_DIRTY)
    tagged, nxt = find_get_pages_tag(mapping, 0, PAGECACHE_TAG_DIRTY, 16)
    assert tagged == [pages[1], pages[3]] and nxt == 10
    assert find_get_pages_tag(mapping, 10, PAGECACHE_TAG_DIRTY, 16) == ([], 10)


def test_find_lock_page_three_outcomes() -> None:
    k = boot_kernel(**_SMALL)
    mapping = vl_new_inode(k, "f").i_mapping
    task = new_task(k, "t")
    task.state = TASK_RUNNING
    assert vl_find_lock_page(k, task, mapping, 0) == (FLP_ABSENT, None)
    page = _cached(k, mapping, 0)
    status, got = vl_find_lock_page(k, task, mapping, 0)
    assert status == FLP_FOUND and got is page and PageLocked(page) and page_count(page) == 2
    other = new_task(k, "o")
    other.state = TASK_RUNNING
    assert vl_find_lock_page(k, other, mapping, 0) == (FLP_BLOCKED, None)
    assert other.wait_key == page_locked_key(page.pfn) and page_count(page) == 2
    unlock_page(k, page)
    assert other.state == TASK_RUNNING


def test_error_bits() -> None:
    mapping = AddressSpace(3)
    mapping_set_error(mapping, AS_ENOSPC)
    assert mapping_test_clear_error(mapping, AS_ENOSPC)
    assert not mapping_test_clear_error(mapping, AS_ENOSPC)


def test_ra_window() -> None:
    assert vl_ra_window(0, -1, 0, 1) == 4
    assert vl_ra_window(4, 3, 4, 1) == 8
    assert vl_ra_window(12, 11, 16, 1) == VM_MAX_READAHEAD_PAGES
    assert vl_ra_window(50, 3, 4, 2) == 2
    assert vl_ra_window(50, 3, 4, 100) == VM_MAX_READAHEAD_PAGES


def test_readahead_merges_contiguous_blocks_and_skips_cached() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 10 * 4096, "random", 1)
    mapping = inode.i_mapping
    _cached(k, mapping, 4)
    assert do_page_cache_readahead(k, mapping, 0, 32) == 9
    assert k.machine.disk.queue_depth == 2 and k.vmstat.pgpgin == 36
    _drain(k)
    lru_add_drain(k)
    for i in range(10):
        page = vl_find_page_nolock(mapping, i)
        assert page is not None and PageUptodate(page) and not PageLocked(page)
        assert page_count(page) == 1 or i == 4
        if i != 4:
            assert k.machine.mem.frame_bytes(page.pfn) == oracle_file_expected(k, inode.i_ino, i)
    assert do_page_cache_readahead(k, mapping, 0, 32) == 0


def test_readahead_fills_holes_without_io() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "s", 3 * 4096, "sparse", 0)
    assert do_page_cache_readahead(k, inode.i_mapping, 0, 8) == 3
    assert k.machine.disk.queue_depth == 0 and k.vmstat.pgpgin == 0
    page = vl_find_page_nolock(inode.i_mapping, 2)
    assert page is not None and PageUptodate(page) and k.machine.mem.frame_is_zero(page.pfn)


def test_filemap_nopage_cold_then_warm_and_hole() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_create_file(k, "f", 2 * 4096, "random", 8)
    task = new_task(k, "t")
    task.state = TASK_RUNNING
    assert vl_filemap_nopage(k, task, inode.i_mapping, 1) is None
    assert task.state != TASK_RUNNING and k.vmstat.pgmajfault == 1 and task.maj_flt == 1
    _drain(k)
    lru_add_drain(k)
    assert task.state == TASK_RUNNING
    page = vl_filemap_nopage(k, task, inode.i_mapping, 1)
    assert page is not None and PageUptodate(page) and page_count(page) == 2
    assert k.vmstat.pgmajfault == 1
    sparse = vl_create_file(k, "s", 4096, "sparse", 0)
    hole = vl_filemap_nopage(k, task, sparse.i_mapping, 0)
    assert hole is not None and PageUptodate(hole) and k.vmstat.pgmajfault == 1


def test_address_space_state_round_trip() -> None:
    k = boot_kernel(**_SMALL)
    inode = vl_new_inode(k, "f")
    mapping = inode.i_mapping
    pages = [_cached(k, mapping, i) for i in (0, 2, 70)]
    set_page_dirty(k, pages[1])
    mapping.writeback_index = 3
    mapping.i_mmap_shared.append(12)
    state = save_address_space(mapping)
    for p in pages:
        p.mapping = None
    again = load_address_space(state, k.mem_map.pages)
    assert save_address_space(again) == state
    assert all(p.mapping is again for p in pages)
    assert vl_find_page_nolock(again, 70) is pages[2]


# ---- truncate_inode_pages ----------------------------------------------------------------------


def _dirty_file(k: Kernel, npages: int) -> tuple[int, list[Page]]:
    inode = vl_new_inode(k, "f")
    pages = []
    for i in range(npages):
        page = _cached(k, inode.i_mapping, i)
        data = bytes([i + 1]) * 4096
        k.machine.mem.write(page.pfn * 4096, data)
        oracle_file_write(k, inode.i_ino, i * 4096, data)
        set_page_dirty(k, page)
        pages.append(page)
    inode.i_size = npages * 4096
    return inode.i_ino, pages


def test_truncate_inode_pages_drops_dirty_pages_and_zeroes_the_partial_one() -> None:
    k = boot_kernel(**_SMALL)
    ino, pages = _dirty_file(k, 5)
    inode = k.sb.s_inodes[ino]
    free_before = k.pgdat.zone.free_pages
    assert k.vmstat.nr_dirty == 5
    inode.i_size = 4096 + 10
    oracle_file_truncate(k, ino, inode.i_size)
    d = Driver(k)
    d.add(new_task(k, "t"), [TruncateInodePagesOp(ino, 4096 + 10)])
    d.run()
    assert inode.i_mapping.nrpages == 2 and k.vmstat.nr_dirty == 2
    assert all(p.mapping is None and not PageDirty(p) for p in pages[2:])
    tail = k.machine.mem.frame_bytes(pages[1].pfn)
    assert tail[:10] == b"\x02" * 10 and tail[10:] == bytes(4086)
    lru_add_drain(k)
    assert k.pgdat.zone.free_pages >= free_before + 3


def test_truncate_inode_pages_waits_for_locked_and_writeback_pages() -> None:
    k = boot_kernel(**_SMALL)
    ino, pages = _dirty_file(k, 3)
    locker = new_task(k, "locker")
    locker.state = TASK_RUNNING
    pages[1].flags |= 1  # PG_locked: someone holds it
    set_page_writeback(k, pages[2])
    k.sb.s_inodes[ino].i_size = 0
    oracle_file_truncate(k, ino, 0)
    d = Driver(k)
    d.add(new_task(k, "t"), [TruncateInodePagesOp(ino, 0)])
    d.run_events(50)
    mapping = k.sb.s_inodes[ino].i_mapping
    assert mapping.nrpages == 2 and pages[0].mapping is None
    unlock_page(k, pages[1])
    d.run_events(50)
    assert mapping.nrpages == 1 and pages[1].mapping is None
    from kernelmodel.mm.filemap_wb import end_page_writeback

    end_page_writeback(k, pages[2])
    d.run()
    assert mapping.nrpages == 0 and k.vmstat.nr_dirty == 0 and k.vmstat.nr_pagecache == 0
