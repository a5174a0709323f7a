"""mpage_writepages: order, bios, the wrap rule, writeback_index, budgets."""

from __future__ import annotations

from test_wb_support import (
    drain_io,
    drive,
    fake_task,
    make_file,
    make_kernel,
    wait_woken,
    write_page,
)

from kernelmodel.check.check import check_pagecache
from kernelmodel.fs.fs import Inode
from kernelmodel.fs.mpage import (
    MPAGE_BIO_MAX_PAGES,
    MpageWritepages,
    block_write_full_page,
    vl_do_writepages_frame,
)
from kernelmodel.include.page import Page, PageDirty, PageLocked, PageWriteback, SetPageLocked
from kernelmodel.include.vmstat import TR_IO_SUBMIT, TR_WB_START
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_CONTINUE, KOP_DONE, TASK_STOPPED
from kernelmodel.lib.radix_tree import radix_tree_tag_get
from kernelmodel.lib.rng import Rng
from kernelmodel.mm.filemap import PAGECACHE_TAG_DIRTY, remove_from_page_cache
from kernelmodel.mm.filemap_wb import vl_fdatawrite
from kernelmodel.mm.page_writeback import (
    NR_CONGESTION_ON,
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    WritebackControl,
    clear_page_dirty,
    clear_page_dirty_for_io,
    set_page_dirty,
    set_page_writeback,
)
from kernelmodel.mm.pagemap import unlock_page
from tests.kernelmodel.frames_support import run_frame, stack_round_trips


def _run_walk(k: Kernel, inode: Inode, wbc: WritebackControl) -> MpageWritepages:
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    return walk


def _submits(k: Kernel) -> list[tuple[int, int]]:
    """(sector, nsect) of every write request submitted so far."""
    return [(e.a, e.b) for e in k.trace.since(0) if e.kind == TR_IO_SUBMIT and e.s == "W"]


def _wb_order(k: Kernel) -> list[int]:
    """Page indices in the order they were put under writeback."""
    return [e.b for e in k.trace.since(0) if e.kind == TR_WB_START]


def test_random_dirtying_is_written_in_offset_and_block_order() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 200)
    rng = Rng(7)
    order = list(range(200))
    for i in range(199, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    chosen = order[:120]
    for idx in chosen:
        write_page(k, inode, pages[idx], idx + 3)
    walk = _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 10_000))
    assert walk.ret == 0
    assert _wb_order(k) == sorted(chosen)
    sectors = [s for s, _n in _submits(k)]
    assert sectors == sorted(sectors)
    drain_io(k)
    assert k.vmstat.nr_dirty == 0 and k.vmstat.nr_writeback == 0
    assert check_pagecache(k) == []
    from kernelmodel.oracle.oracle import vl_verify_files

    assert vl_verify_files(k) == []


def test_adjacent_blocks_merge_into_one_request() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 80)
    for p in pages[0:40] + pages[50:60]:
        set_page_dirty(k, p)
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 10_000))
    b0 = inode.i_blocks[0]
    b50 = inode.i_blocks[50]
    # 40 contiguous pages: one full bio of MPAGE_BIO_MAX_PAGES and the rest; then pages 50..59
    assert _submits(k) == [
        (b0 * 8, MPAGE_BIO_MAX_PAGES * 8),
        ((b0 + MPAGE_BIO_MAX_PAGES) * 8, (40 - MPAGE_BIO_MAX_PAGES) * 8),
        (b50 * 8, 80),
    ]


def test_interleaved_blocks_do_not_merge() -> None:
    k = make_kernel()
    # blocks allocated alternately for two files, as two writers at once would get them
    a_inode, a_pages = make_file(k, "a", 0)
    b_inode, _b = make_file(k, "b", 0)
    from test_wb_support import add_cached_page

    from kernelmodel.fs.fs import get_block

    for i in range(8):
        get_block(k, a_inode, i, 1)
        get_block(k, b_inode, i, 1)
    a_pages = [add_cached_page(k, a_inode, i, i) for i in range(8)]
    for p in a_pages:
        set_page_dirty(k, p)
    _run_walk(k, a_inode, WritebackControl(WB_SYNC_ALL, 100))
    assert len(_submits(k)) == 8


def _dirty_indices(k: Kernel, inode: Inode, pages: list[Page], idx: list[int]) -> None:
    for i in idx:
        write_page(k, inode, pages[i], i + 1)


def test_wb_sync_none_starts_at_writeback_index_and_does_not_wrap_when_it_found_pages() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 100)
    _dirty_indices(k, inode, pages, [5, 10, 60, 70])
    inode.i_mapping.writeback_index = 50
    walk = _run_walk(k, inode, WritebackControl(WB_SYNC_NONE, 1000))
    assert _wb_order(k) == [60, 70]  # 5 and 10 stay dirty: no wrap after finding pages
    assert PageDirty(pages[5]) and PageDirty(pages[10])
    assert inode.i_mapping.writeback_index == 71
    assert walk.scanned


def test_wrap_rule_wraps_once_when_nothing_was_found_ahead() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 100)
    _dirty_indices(k, inode, pages, [5, 10])
    inode.i_mapping.writeback_index = 50
    _run_walk(k, inode, WritebackControl(WB_SYNC_NONE, 1000))
    assert _wb_order(k) == [5, 10]
    assert inode.i_mapping.writeback_index == 11


def test_wb_sync_all_always_sweeps_from_zero() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 100)
    _dirty_indices(k, inode, pages, [5, 10, 60])
    inode.i_mapping.writeback_index = 50
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 1000))
    assert _wb_order(k) == [5, 10, 60]


def test_writeback_index_is_after_the_last_page_looked_up() -> None:
    """done part-way through a pagevec: the rest of that pagevec is still written (no break
    in the 2.6 inner loop) and writeback_index moves past the whole pagevec."""
    k = make_kernel()
    inode, pages = make_file(k, "f", 64)
    _dirty_indices(k, inode, pages, list(range(0, 64, 2)))  # 32 dirty pages, 16 per pagevec
    wbc = WritebackControl(WB_SYNC_NONE, 5)
    walk = _run_walk(k, inode, wbc)
    assert walk.done
    assert _wb_order(k) == list(range(0, 32, 2))  # the first pagevec, all 16 pages
    assert wbc.nr_to_write == 5 - 16
    assert inode.i_mapping.writeback_index == 31  # index after the pagevec's last page (30)
    assert all(PageDirty(pages[i]) for i in range(32, 64, 2))
    drain_io(k)
    # the next WB_SYNC_NONE pass continues from there
    _run_walk(k, inode, WritebackControl(WB_SYNC_NONE, 3))
    assert _wb_order(k)[16:] == list(range(32, 64, 2))


def test_budgets_fdatawrite_and_do_writepages() -> None:
    k = make_kernel()
    inode, _pages = make_file(k, "f", 10)
    fw = vl_fdatawrite(inode.i_mapping, WB_SYNC_ALL)
    assert fw.wbc.nr_to_write == 2 * inode.i_mapping.nrpages
    assert vl_do_writepages_frame(k, inode.i_mapping, WritebackControl(WB_SYNC_ALL, 0)) is None
    assert vl_do_writepages_frame(k, inode.i_mapping, WritebackControl(WB_SYNC_ALL, -3)) is None


def test_lock_page_sleeps_and_resumes_on_the_same_page() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 10)
    _dirty_indices(k, inode, pages, [1, 2, 3])
    SetPageLocked(pages[2])  # held by someone else
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    r = run_frame(k, t, walk, wbc)
    assert r == KOP_BLOCKED
    assert _wb_order(k) == [1]
    assert t.wait_key == f"page {pages[2].pfn} locked"
    unlock_page(k, pages[2])
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert _wb_order(k) == [1, 2, 3]


def test_wb_sync_all_waits_on_writeback_and_writes_again() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    p = pages[1]
    write_page(k, inode, p, 9)
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 100))  # p now under writeback
    assert PageWriteback(p)
    write_page(k, inode, p, 10)  # redirtied while its I/O is in flight
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    assert run_frame(k, t, walk, wbc) == KOP_BLOCKED
    assert t.wait_key == f"page {p.pfn} writeback"
    assert PageLocked(p)  # lock held while waiting on writeback
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert _wb_order(k) == [1, 1]


def test_wb_sync_none_skips_pages_under_writeback() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    p = pages[1]
    write_page(k, inode, p, 9)
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 100))
    write_page(k, inode, p, 10)
    _run_walk(k, inode, WritebackControl(WB_SYNC_NONE, 100))
    assert _wb_order(k) == [1]
    assert PageDirty(p)  # skipped, still dirty and tagged
    assert radix_tree_tag_get(inode.i_mapping.page_tree, 1, PAGECACHE_TAG_DIRTY)


def test_truncated_page_is_skipped() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    _dirty_indices(k, inode, pages, [1, 2])
    p = pages[1]
    SetPageLocked(p)  # truncate holds the lock
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    assert run_frame(k, t, walk, wbc) == KOP_BLOCKED
    clear_page_dirty(k, p)
    remove_from_page_cache(k, p)
    unlock_page(k, p)
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert _wb_order(k) == [2]
    assert check_pagecache(k) == []


def test_page_past_eof_is_left_alone_with_its_tag() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    _dirty_indices(k, inode, pages, [1, 3])
    inode.i_size = 2 * 4096 + 100  # truncate in progress: i_size set, pages not yet removed
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 100))
    assert _wb_order(k) == [1]
    assert not PageDirty(pages[3]) and not PageLocked(pages[3])
    assert radix_tree_tag_get(inode.i_mapping.page_tree, 3, PAGECACHE_TAG_DIRTY)
    assert check_pagecache(k) == []  # tolerated: wholly past EOF


def test_straddling_page_tail_is_zeroed_before_io() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    write_page(k, inode, pages[2], 0xAB)
    inode.i_size = 2 * 4096 + 100
    _run_walk(k, inode, WritebackControl(WB_SYNC_ALL, 100))
    drain_io(k)
    data = k.machine.disk.read_sectors(inode.i_blocks[2] * 8, 8)
    assert data[:100] == bytes([0xAB]) * 100
    assert data[100:] == bytes(4096 - 100)


def test_nonblocking_stops_on_congestion() -> None:
    k = make_kernel()
    n = 300
    inode, pages = make_file(k, "f", n, [i for i in range(n)])
    # every other page dirty: no two dirty pages on adjacent blocks, one request each
    for i in range(0, n, 2):
        set_page_dirty(k, pages[i])
    wbc = WritebackControl(WB_SYNC_NONE, 10_000, True)
    walk = _run_walk(k, inode, wbc)
    assert wbc.encountered_congestion
    assert walk.done
    written = len(_wb_order(k))
    assert NR_CONGESTION_ON - 1 <= written < n // 2
    # a new nonblocking walk returns at once while the queue is congested
    wbc2 = WritebackControl(WB_SYNC_NONE, 10_000, True)
    t = fake_task(k)
    w2 = MpageWritepages(inode.i_mapping)
    assert run_frame(k, t, w2, wbc2) == KOP_DONE
    assert wbc2.encountered_congestion and len(_wb_order(k)) == written


def test_preempt_point_after_clear_dirty_keeps_the_tag() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    _dirty_indices(k, inode, pages, [1, 2])
    k.breakpoints["mpage_writepages:after_clear_dirty"] = ""
    t = fake_task(k, "pdflush")
    walk = MpageWritepages(inode.i_mapping)
    wbc = WritebackControl(WB_SYNC_NONE, 100)
    assert run_frame(k, t, walk, wbc) == KOP_BLOCKED
    assert t.state == TASK_STOPPED
    p = pages[1]
    assert PageLocked(p) and not PageDirty(p) and not PageWriteback(p)
    assert radix_tree_tag_get(inode.i_mapping.page_tree, 1, PAGECACHE_TAG_DIRTY)
    assert check_pagecache(k) == []
    # the frame survives a state round trip at this point
    stack_round_trips(k, t.kstack)
    k.continue_task(t)
    k.runqueue.remove(t.pid)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert _wb_order(k) == [1, 2]


def test_block_write_full_page_writes_one_page() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    p = pages[1]
    write_page(k, inode, p, 0x5A)
    SetPageLocked(p)
    assert clear_page_dirty_for_io(k, p) == 1
    wbc = WritebackControl(WB_SYNC_NONE, 32, True, True)
    assert block_write_full_page(k, p, wbc) == 0
    assert PageWriteback(p) and not PageLocked(p)
    assert _submits(k) == [(inode.i_blocks[1] * 8, 8)]
    drain_io(k)
    assert not PageWriteback(p)
    assert k.machine.disk.read_sectors(inode.i_blocks[1] * 8, 8) == bytes([0x5A]) * 4096


def test_set_page_writeback_before_bio_submission() -> None:
    """Pages join a pending bio under writeback and unlocked; the bio is submitted at the end."""
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    _dirty_indices(k, inode, pages, [0, 1, 2, 3])
    t = fake_task(k)
    walk = MpageWritepages(inode.i_mapping)
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    r = run_frame(k, t, walk, wbc)
    assert r == KOP_CONTINUE  # end of the pagevec: the bio is still pending
    assert [p.index for p in walk.bio_pages] == [0, 1, 2, 3]
    assert all(PageWriteback(p) and not PageLocked(p) for p in pages)
    assert _submits(k) == []
    assert run_frame(k, t, walk, wbc) == KOP_DONE
    assert _submits(k) == [(inode.i_blocks[0] * 8, 32)]
    set_page_writeback(k, pages[0])  # already set: no double count
    assert k.vmstat.nr_writeback == 4
