"""Tags, flags and counters of mm/page-writeback.c, dirty limits, ratelimits."""

from __future__ import annotations

from test_wb_support import (
    add_cached_page,
    fake_task,
    make_file,
    make_kernel,
    wait_woken,
    write_page,
)

from kernelmodel.check.check import check_pagecache
from kernelmodel.fs.fs import I_DIRTY_PAGES, vl_new_inode
from kernelmodel.fs.fs_writeback import SyncSbInodes
from kernelmodel.include.page import (
    PageDirty,
    PageWriteback,
    SetPageAnon,
    SetPageLocked,
    SetPageSwapCache,
)
from kernelmodel.include.state_generated import (
    load_writeback_control,
    load_writeback_state,
    save_writeback_control,
    save_writeback_state,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_DONE, PF_LESS_THROTTLE, TASK_RUNNING, TASK_STOPPED
from kernelmodel.lib.radix_tree import radix_tree_tag_get, radix_tree_tagged
from kernelmodel.mm.filemap import (
    PAGECACHE_TAG_DIRTY,
    PAGECACHE_TAG_WRITEBACK,
    add_to_page_cache,
    remove_from_page_cache,
)
from kernelmodel.mm.filemap_wb import end_page_writeback
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    WritebackControl,
    WritebackState,
    _clear_page_dirty,
    balance_dirty_pages_ratelimited,
    clear_page_dirty,
    clear_page_dirty_for_io,
    get_dirty_limits,
    redirty_page_for_writepage,
    set_page_dirty,
    set_page_writeback,
    set_ratelimit,
    wb_timer_fn,
)
from kernelmodel.mm.page_writeback import test_clear_page_dirty as tcpd
from kernelmodel.mm.page_writeback import test_clear_page_writeback as tcpw
from kernelmodel.mm.page_writeback import test_set_page_writeback as tspw
from kernelmodel.mm.pagemap import unlock_page, vl_wait_on_page_writeback
from kernelmodel.mm.pdflush import PDFLUSH_BACKGROUND_WRITEOUT, pdflush_operation
from tests.kernelmodel.frames_support import run_frame


def _tags(page: object, inode: object) -> tuple[int, int]:
    from kernelmodel.fs.fs import Inode
    from kernelmodel.include.page import Page

    assert isinstance(page, Page) and isinstance(inode, Inode)
    tree = inode.i_mapping.page_tree
    return (
        radix_tree_tag_get(tree, page.index, PAGECACHE_TAG_DIRTY),
        radix_tree_tag_get(tree, page.index, PAGECACHE_TAG_WRITEBACK),
    )


# ---- §2.2, one test per row of the table --------------------------------------------------------


def test_set_page_dirty_without_mapping_is_a_bare_flag() -> None:
    k = make_kernel()
    from kernelmodel.mm.alloc import vl_alloc_page
    from kernelmodel.mm.page_alloc import GFP_HIGHUSER

    page = vl_alloc_page(k, GFP_HIGHUSER)
    assert page is not None
    assert set_page_dirty(k, page) == 1
    assert PageDirty(page)
    assert k.vmstat.nr_dirty == 0
    assert set_page_dirty(k, page) == 0


def test_set_page_dirty_nobuffers_tags_counts_and_dirties_the_inode() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    assert inode.i_state == 0 and k.sb.s_dirty == []
    assert set_page_dirty(k, pages[1]) == 1
    assert PageDirty(pages[1])
    assert _tags(pages[1], inode) == (1, 0)
    assert k.vmstat.nr_dirty == 1
    assert inode.i_state & I_DIRTY_PAGES
    assert k.sb.s_dirty == [inode.i_ino]
    assert inode.dirtied_when == k.now()
    # a second dirtying changes nothing (no 0->1 transition)
    assert set_page_dirty(k, pages[1]) == 0
    assert k.vmstat.nr_dirty == 1
    assert check_pagecache(k) == []


def test_dirtying_keeps_s_dirty_time_order() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 2)
    b, pb = make_file(k, "b", 2)
    set_page_dirty(k, pa[0])
    set_page_dirty(k, pb[0])
    assert k.sb.s_dirty == [b.i_ino, a.i_ino]  # newest at the head
    set_page_dirty(k, pa[1])  # already dirty inode: does not move
    assert k.sb.s_dirty == [b.i_ino, a.i_ino]


def test_swapcache_pages_are_never_tagged_in_2_6_6() -> None:
    k = make_kernel()
    from kernelmodel.mm.alloc import vl_alloc_page
    from kernelmodel.mm.page_alloc import GFP_HIGHUSER

    page = vl_alloc_page(k, GFP_HIGHUSER)
    assert page is not None
    SetPageAnon(page)
    SetPageSwapCache(page)
    assert set_page_dirty(k, page) == 1
    assert k.vmstat.nr_dirty == 0
    assert tspw(k, page) == 0
    assert k.vmstat.nr_writeback == 1  # the macro counts every page
    assert tcpw(k, page) == 1
    assert k.vmstat.nr_writeback == 0
    assert k.sb.s_dirty == []


def test_redirty_page_for_writepage_counts_a_skip() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 2)
    wbc = WritebackControl(WB_SYNC_NONE, 10)
    assert redirty_page_for_writepage(k, wbc, pages[0]) == 1
    assert wbc.pages_skipped == 1
    assert _tags(pages[0], inode) == (1, 0)
    assert k.vmstat.nr_dirty == 1


def test_test_clear_page_dirty_clears_flag_tag_and_count() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 2)
    set_page_dirty(k, pages[0])
    assert tcpd(k, pages[0]) == 1
    assert not PageDirty(pages[0])
    assert _tags(pages[0], inode) == (0, 0)
    assert k.vmstat.nr_dirty == 0
    assert tcpd(k, pages[0]) == 0
    set_page_dirty(k, pages[1])
    clear_page_dirty(k, pages[1])
    assert k.vmstat.nr_dirty == 0 and not radix_tree_tagged(inode.i_mapping.page_tree, 0)


def test_clear_page_dirty_for_io_leaves_the_tag_while_locked() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 2)
    p = pages[0]
    set_page_dirty(k, p)
    SetPageLocked(p)
    assert clear_page_dirty_for_io(k, p) == 1
    assert not PageDirty(p)
    assert _tags(p, inode) == (1, 0)  # DIRTY tag deliberately kept
    assert k.vmstat.nr_dirty == 0
    assert check_pagecache(k) == []  # the documented window
    # set_page_writeback ends the window: WRITEBACK set, DIRTY cleared (page clean)
    set_page_writeback(k, p)
    assert _tags(p, inode) == (0, 1)
    assert k.vmstat.nr_writeback == 1
    unlock_page(k, p)
    assert check_pagecache(k) == []
    assert clear_page_dirty_for_io(k, pages[1]) == 0


def test_clear_page_dirty_for_io_window_outside_the_lock_is_flagged() -> None:
    k = make_kernel()
    _inode, pages = make_file(k, "f", 1)
    set_page_dirty(k, pages[0])
    clear_page_dirty_for_io(k, pages[0])  # without holding the page lock
    assert any("DIRTY tag on a clean unlocked page" in s for s in check_pagecache(k))


def test_set_page_writeback_keeps_dirty_tag_of_a_redirtied_page() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 1)
    p = pages[0]
    set_page_dirty(k, p)
    SetPageLocked(p)
    clear_page_dirty_for_io(k, p)
    set_page_dirty(k, p)  # redirtied (e.g. through a shared mapping) in the window
    assert tspw(k, p) == 0
    assert _tags(p, inode) == (1, 1)
    assert tspw(k, p) == 1  # already under writeback: no double count
    assert k.vmstat.nr_writeback == 1
    unlock_page(k, p)
    assert check_pagecache(k) == []


def test_private_clear_page_dirty_has_no_accounting() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 1)
    set_page_dirty(k, pages[0])
    _clear_page_dirty(k, pages[0])
    assert not PageDirty(pages[0]) and _tags(pages[0], inode) == (0, 0)
    assert k.vmstat.nr_dirty == 1  # __clear_page_dirty leaves the count to its caller
    k.vmstat.nr_dirty -= 1
    assert check_pagecache(k) == []


def test_end_page_writeback_clears_and_wakes() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 1)
    p = pages[0]
    set_page_writeback(k, p)
    t = fake_task(k)
    assert not vl_wait_on_page_writeback(k, t, p)
    assert t.state != TASK_RUNNING
    end_page_writeback(k, p)
    assert not PageWriteback(p)
    assert _tags(p, inode) == (0, 0)
    assert t.state == TASK_RUNNING
    assert k.vmstat.nr_writeback == 0
    wait_woken(k, t)


def test_remove_and_add_to_page_cache_leave_no_tags() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 2)
    p = pages[1]
    set_page_dirty(k, p)
    tcpd(k, p)  # truncate cleans before it removes
    set_page_writeback(k, p)
    SetPageLocked(p)
    remove_from_page_cache(k, p)
    assert not radix_tree_tagged(inode.i_mapping.page_tree, PAGECACHE_TAG_WRITEBACK)
    tcpw(k, p)  # page_mapping() is gone: flag only
    assert add_to_page_cache(k, p, inode.i_mapping, 1) == 0
    assert _tags(p, inode) == (0, 0)
    unlock_page(k, p)
    assert check_pagecache(k) == []


def test_mapping_tagged_follows_the_tags() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 70)
    tree = inode.i_mapping.page_tree
    assert not radix_tree_tagged(tree, PAGECACHE_TAG_DIRTY)
    set_page_dirty(k, pages[69])
    assert radix_tree_tagged(tree, PAGECACHE_TAG_DIRTY)
    tcpd(k, pages[69])
    assert not radix_tree_tagged(tree, PAGECACHE_TAG_DIRTY)


# ---- dirty limits and ratelimits ----------------------------------------------------------------


def test_get_dirty_limits_defaults_and_clamps() -> None:
    k = make_kernel()
    total = k.wb.total_pages
    bg, dirty = get_dirty_limits(k)
    assert (bg, dirty) == (10 * total // 100, 40 * total // 100)
    # mapped memory clamps dirty_ratio to half the unmapped ratio
    k.vmstat.nr_mapped = total * 50 // 100
    bg, dirty = get_dirty_limits(k)
    unmapped = 100 - k.vmstat.nr_mapped * 100 // total
    assert dirty == (unmapped // 2) * total // 100
    # never below 5 %, and background halves when not below dirty_ratio
    k.vmstat.nr_mapped = total * 95 // 100
    bg, dirty = get_dirty_limits(k)
    assert dirty == 5 * total // 100
    assert bg == 2 * total // 100
    k.vmstat.nr_mapped = 0
    t = fake_task(k)
    t.flags |= PF_LESS_THROTTLE
    bg2, dirty2 = get_dirty_limits(k, t)
    assert dirty2 == 40 * total // 100 + (40 * total // 100) // 4
    assert bg2 == 10 * total // 100 + (10 * total // 100) // 4


def test_set_ratelimit_clamps() -> None:
    k = make_kernel()
    k.wb.total_pages = 100
    set_ratelimit(k)
    assert k.wb.ratelimit_pages == 16
    k.wb.total_pages = 32 * 500
    set_ratelimit(k)
    assert k.wb.ratelimit_pages == 500
    k.wb.total_pages = 1 << 30
    set_ratelimit(k)
    assert k.wb.ratelimit_pages == 1024


def test_balance_dirty_pages_ratelimited_calls_every_ratelimit_plus_one() -> None:
    k = make_kernel()
    inode = vl_new_inode(k, "f")
    t = fake_task(k)
    k.wb.ratelimit_pages = 16
    got = [balance_dirty_pages_ratelimited(k, t, inode.i_mapping) is not None for _ in range(40)]
    assert [i for i, g in enumerate(got) if g] == [16, 33]
    assert k.vmstat.balance_dirty_pages == 2
    k.wb.dirty_exceeded = True
    got = [balance_dirty_pages_ratelimited(k, t, inode.i_mapping) is not None for _ in range(20)]
    # the counter went on from 6 (40 calls - 34): it fires at 8 and then every 9 calls
    assert [i for i, g in enumerate(got) if g] == [2, 11]


def test_pdflush_operation_without_threads_fails_and_timer_retries() -> None:
    k = make_kernel()
    assert k.wb.pdflush_list == []  # the threads created at boot have not run yet
    assert pdflush_operation(k, PDFLUSH_BACKGROUND_WRITEOUT, 0) == -1
    wb_timer_fn(k)
    assert k.wb.wb_timer_seq >= 0
    assert k.wb.wb_timer_expires == k.now() + 1_000_000_000


def test_wbc_and_state_round_trip() -> None:
    wbc = WritebackControl(WB_SYNC_ALL, 77, True, True, True, 123)
    wbc.pages_skipped = 3
    wbc.encountered_congestion = True
    assert save_writeback_control(load_writeback_control(save_writeback_control(wbc))) == \
        save_writeback_control(wbc)
    wb = WritebackState()
    wb.pdflush_pids = [3, 4]
    wb.pdflush_list = [4]
    wb.vl_note_fsync_latency(5)
    wb.vl_note_fsync_latency(9)
    wb.vl_note_fsync_latency(2)
    assert wb.vl_metrics()["fsync_latency_ns"] == 9
    assert wb.fsync_latency_last == 2
    saved = save_writeback_state(wb)
    assert save_writeback_state(load_writeback_state(saved)) == saved


def test_add_cached_page_helper_is_consistent() -> None:
    k = make_kernel()
    inode = vl_new_inode(k, "g")
    add_cached_page(k, inode, 5, 9)
    assert inode.i_mapping.nrpages == 1 and inode.i_size == 6 * 4096
    assert check_pagecache(k) == []


# ---- pdflush, kupdate, background writeout, throttling --------------------------


def _start_pdflush(k: Kernel) -> None:
    from kernelmodel.mm.page_writeback import vl_start_pdflush

    if not k.wb.pdflush_pids:
        vl_start_pdflush(k)


def _settle(k: Kernel) -> None:
    """Let the new pdflush threads run once (they go idle; the first kupdate is due at 5 s)."""
    from test_wb_support import step_machine

    while len(k.wb.pdflush_list) < len(k.wb.pdflush_pids):
        assert step_machine(k)


def _run_until(k: Kernel, t_ns: int) -> None:
    from test_wb_support import step_machine

    n = 0
    while k.now() < t_ns:
        assert step_machine(k)
        n += 1
        assert n < 5_000_000


def test_pdflush_threads_idle_on_pdflush_list() -> None:
    k = make_kernel()
    _start_pdflush(k)
    from test_wb_support import step_machine

    for _ in range(3):  # both threads run once (the first kupdate is due at 5 s)
        step_machine(k)
    assert k.now() < 1_000_000
    assert len(k.wb.pdflush_pids) == 2
    assert sorted(k.wb.pdflush_list) == sorted(k.wb.pdflush_pids)
    assert k.wb.wb_timer_seq >= 0
    assert all(k.tasks[p].describe_wait().startswith("pdflush: idle") for p in k.wb.pdflush_pids)


def test_kupdate_writes_pages_older_than_dirty_expire() -> None:
    k = make_kernel()
    _start_pdflush(k)
    _settle(k)
    _run_until(k, 6_000_000_000)  # past the first kupdate run
    inode, pages = make_file(k, "f", 50)
    for p in pages:
        write_page(k, inode, p, 0x33)
    t_dirty = k.now()
    _run_until(k, t_dirty + 29_000_000_000)
    assert k.vmstat.nr_dirty == 50  # kupdate ran every 5 s but the pages are not 30 s old
    _run_until(k, t_dirty + 36_000_000_000)
    assert k.vmstat.nr_dirty == 0
    assert k.vmstat.nr_writeback == 0
    wb_events = [e.time for e in k.trace.since(0) if e.kind == "writeback_start"]
    assert min(wb_events) >= t_dirty + 30_000_000_000
    assert check_pagecache(k) == []
    assert k.sb.s_dirty == [] and k.sb.s_io == []


def test_kupdate_interval_is_tunable() -> None:
    k = make_kernel(dirty_writeback_centisecs=100, dirty_expire_centisecs=200)
    _start_pdflush(k)
    inode, pages = make_file(k, "f", 10)
    _settle(k)
    for p in pages:
        write_page(k, inode, p, 1)
    t0 = k.now()
    _run_until(k, t0 + 1_900_000_000)
    assert k.vmstat.nr_dirty == 10
    _run_until(k, t0 + 4_000_000_000)
    assert k.vmstat.nr_dirty == 0


def test_wakeup_bdflush_writes_everything_in_background() -> None:
    from kernelmodel.mm.page_writeback import wakeup_bdflush

    k = make_kernel()
    _start_pdflush(k)
    _settle(k)
    inode, pages = make_file(k, "f", 300)
    for p in pages:
        write_page(k, inode, p, 2)
    assert wakeup_bdflush(k, 0) == 0
    _run_until(k, 1_000_000_000)
    assert k.vmstat.nr_dirty == 0 and k.vmstat.nr_writeback == 0
    assert any(e.kind == "pdflush" and e.s == "background_writeout" for e in k.trace.since(0))


def test_balance_dirty_pages_throttles_a_fast_writer() -> None:
    from test_wb_support import drive

    k = make_kernel(dirty_ratio=10, dirty_background_ratio=5)
    _start_pdflush(k)
    _settle(k)
    inode, pages = make_file(k, "big", 900)
    t = fake_task(k, "writer")
    _bg, dirty_thresh = get_dirty_limits(k, t)
    peak = 0
    for p in pages:
        write_page(k, inode, p, 7)
        peak = max(peak, k.vmstat.nr_dirty + k.vmstat.nr_writeback)
        op = balance_dirty_pages_ratelimited(k, t, inode.i_mapping)
        if op is not None:
            drive(k, t, lambda op=op: run_frame(k, t, op))  # type: ignore[misc]
    assert k.vmstat.balance_dirty_pages > 0
    assert k.vmstat.throttled_ns > 0
    assert any(e.kind == "throttle" for e in k.trace.since(0))
    # the writer never runs more than a ratelimit interval and a chunk past the limit
    slack = k.wb.ratelimit_pages + 1 + (k.wb.ratelimit_pages * 3) // 2
    assert peak <= dirty_thresh + slack
    assert k.vmstat.nr_dirty <= dirty_thresh
    assert check_pagecache(k) == []


# ---- inode-level writeback: s_dirty / s_io (fs/fs-writeback.c) ----------------------------------


def _sync_sb(k: Kernel, wbc: WritebackControl, name: str = "wb") -> SyncSbInodes:
    from test_wb_support import drive

    t = fake_task(k, name)
    frame = SyncSbInodes()
    drive(k, t, lambda: run_frame(k, t, frame, wbc))
    return frame


def test_sync_sb_inodes_writes_oldest_first_and_cleans_inodes() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    b, pb = make_file(k, "b", 4)
    write_page(k, a, pa[0], 1)
    k.machine.clock.now += 10
    write_page(k, b, pb[0], 1)
    assert k.sb.s_dirty == [b.i_ino, a.i_ino]
    frame = _sync_sb(k, WritebackControl(WB_SYNC_NONE, 100))
    assert frame.synced == [a.i_ino, b.i_ino]  # from the tail of s_io: oldest first
    assert k.sb.s_dirty == [] and k.sb.s_io == []
    assert a.i_state == 0 and b.i_state == 0


def test_partial_writeback_redirties_kupdate_to_the_tail_others_to_the_head() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 40)
    b, pb = make_file(k, "b", 4)
    for p in pa:
        write_page(k, a, p, 1)
    k.machine.clock.now += 10
    write_page(k, b, pb[0], 1)
    # non-kupdate: a is written partly, redirtied at the head with a fresh dirtied_when
    k.machine.clock.now += 10
    wbc = WritebackControl(WB_SYNC_NONE, 16)
    _sync_sb(k, wbc)
    assert a.i_state & I_DIRTY_PAGES
    assert k.sb.s_dirty == [a.i_ino] and k.sb.s_io == [b.i_ino]
    assert a.dirtied_when == k.now()
    # kupdate: b's turn first (left on s_io); a partly written again and put at the tail
    k.machine.clock.now += 10
    wbc = WritebackControl(WB_SYNC_NONE, 20, True, False, True, k.now())
    when = a.dirtied_when
    frame = _sync_sb(k, wbc)
    assert frame.synced[0] == b.i_ino
    assert a.i_state & I_DIRTY_PAGES
    assert k.sb.s_dirty[-1] == a.i_ino and a.dirtied_when == when  # tail, time unchanged


def test_kupdate_does_not_splice_when_s_io_has_inodes() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    b, pb = make_file(k, "b", 4)
    write_page(k, a, pa[0], 1)
    k.sb.s_io.append(k.sb.s_dirty.pop())  # a left on s_io by an earlier pass
    k.machine.clock.now += 10
    write_page(k, b, pb[0], 1)
    wbc = WritebackControl(WB_SYNC_NONE, 100, True, False, True, k.now())
    frame = _sync_sb(k, wbc)
    assert frame.synced == [a.i_ino]
    assert k.sb.s_dirty == [b.i_ino]  # not spliced: s_io was not empty


def test_sync_sb_inodes_stops_at_young_inodes() -> None:
    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    k.machine.clock.now += 1_000
    write_page(k, a, pa[0], 1)
    wbc = WritebackControl(WB_SYNC_NONE, 100, False, False, True, k.now() - 1)
    frame = _sync_sb(k, wbc)
    assert frame.synced == [] and k.sb.s_io == [a.i_ino]


def test_pages_skipped_sends_the_inode_back_to_s_dirty() -> None:
    from test_wb_support import drive

    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    write_page(k, a, pa[0], 1)
    wbc = WritebackControl(WB_SYNC_NONE, 100)
    t = fake_task(k, "wb")
    frame = SyncSbInodes()
    k.breakpoints["sync_sb_inodes:before_writeback"] = "wb"
    assert run_frame(k, t, frame, wbc) == 2 and t.state == TASK_STOPPED
    # a ->writepage that could not write a page (a locked buffer, say) redirtied it
    redirty_page_for_writepage(k, wbc, pa[1])
    k.continue_task(t)
    k.runqueue.remove(t.pid)
    drive(k, t, lambda: run_frame(k, t, frame, wbc))
    assert wbc.pages_skipped == 1
    assert k.sb.s_dirty == [a.i_ino]  # skip this inode for now
    assert check_pagecache(k) == []


def test_i_lock_skips_memory_cleansing_but_sync_all_waits() -> None:
    from kernelmodel.fs.fs import I_LOCK
    from kernelmodel.fs.fs_writeback import WritebackSingleInode

    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    write_page(k, a, pa[0], 1)
    a.i_state |= I_LOCK  # another writeback holds the inode
    t = fake_task(k)
    f = WritebackSingleInode(a)
    assert run_frame(k, t, f, WritebackControl(WB_SYNC_NONE, 100)) == KOP_DONE
    assert k.sb.s_dirty == [a.i_ino] and PageDirty(pa[0])
    f2 = WritebackSingleInode(a)
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    assert run_frame(k, t, f2, wbc) == 2  # sleeps on I_LOCK
    assert t.wait_key == f"inode {a.i_ino} I_LOCK"
    a.i_state &= ~I_LOCK
    from test_wb_support import drive

    from kernelmodel.fs.fs import wake_up_inode

    wake_up_inode(k, a)
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, f2, wbc))
    assert not PageDirty(pa[0]) and not PageWriteback(pa[0])  # WB_SYNC_ALL waited on it


def test_wb_sync_hold_requeues_every_inode() -> None:
    from kernelmodel.mm.page_writeback import WB_SYNC_HOLD

    k = make_kernel()
    a, pa = make_file(k, "a", 4)
    write_page(k, a, pa[0], 1)
    k.machine.clock.now += 5
    frame = _sync_sb(k, WritebackControl(WB_SYNC_HOLD, 100))
    assert frame.synced == [a.i_ino]
    assert k.sb.s_dirty == [a.i_ino] and a.dirtied_when == k.now()


def test_balance_dirty_pages_end_to_end_with_write() -> None:
    from test_fs import Driver, boot_kernel, new_task

    from kernelmodel.fs.open import OpenOp
    from kernelmodel.fs.read_write import WriteOp
    from kernelmodel.include.syscall_abi import O_CREAT, O_RDWR

    k = boot_kernel(mem_mb=16, disk_mb=64, swap_mb=8, timeslice_ns=50_000)
    k.cfg.dirty_ratio = 10
    k.cfg.dirty_background_ratio = 5
    _bg, dirty_thresh = get_dirty_limits(k)
    w = new_task(k, "writer")
    d = Driver(k, check=False)
    d.add(w, [OpenOp("big", O_CREAT | O_RDWR)])
    d.add(w, [WriteOp("big", i << 20, 1 << 20, i) for i in range(4)])
    peak = 0
    while d._feed():
        assert k.machine.step()
        peak = max(peak, k.vmstat.nr_dirty + k.vmstat.nr_writeback)
    assert d.results[w.pid][1:] == [1 << 20] * 4
    assert k.vmstat.balance_dirty_pages > 0 and k.vmstat.throttled_ns > 0
    assert peak <= dirty_thresh + 3 * k.wb.ratelimit_pages
    d.verify()
