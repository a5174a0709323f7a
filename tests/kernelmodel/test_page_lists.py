"""The 2.6.5 page lists: transitions, state round trips, checker rules and a
random workload in lists mode with the checker and the data oracle after every event."""

from __future__ import annotations

import pytest
import test_pagecache_random as tpr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wb_support import drive, fake_task, make_file, wait_woken, write_page

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check import check_invariants, check_pagecache
from kernelmodel.fs.mpage import MpageWritepages, vl_do_writepages_frame
from kernelmodel.fs.state_generated import load_address_space, save_address_space
from kernelmodel.include.page import PageDirty, PageWriteback, SetPageDirty, SetPageLocked
from kernelmodel.include.state_generated import load_mem_map, save_mem_map
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, TASK_STOPPED
from kernelmodel.lib.radix_tree import vl_radix_tree_tag_bits
from kernelmodel.mm.filemap import remove_from_page_cache
from kernelmodel.mm.filemap_wb import vl_fdatawait_frame
from kernelmodel.mm.page_lists import PL_CLEAN, PL_DIRTY, PL_IO, PL_LOCKED, PL_NONE
from kernelmodel.mm.page_writeback import (
    WB_SYNC_ALL,
    WB_SYNC_NONE,
    WritebackControl,
    clear_page_dirty,
)
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.oracle.oracle import vl_verify_files
from machine.board import Machine, MachineConfig
from tests.kernelmodel.frames_support import reload_stack, run_frame, stack_round_trips


def make_kernel(mode: str = "lists", mem_mb: int = 16, disk_mb: int = 64) -> Kernel:
    m = Machine(MachineConfig(mem_mb << 20, disk_mb << 20))
    return vl_start_kernel(m, KernelConfig(swap_bytes=8 << 20, writeback=mode))


def _ids(k: Kernel, pfns: list[int]) -> list[int]:
    return [k.mem_map.pages[p].index for p in pfns]


def test_pages_enter_on_clean_and_dirtying_moves_them_to_the_head_of_dirty() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    m = inode.i_mapping
    assert _ids(k, m.clean_pages) == [3, 2, 1, 0] and all(p.list_id == PL_CLEAN for p in pages)
    write_page(k, inode, pages[2], 1)
    write_page(k, inode, pages[0], 1)
    write_page(k, inode, pages[2], 2)  # already dirty: stays where it is
    assert _ids(k, m.dirty_pages) == [0, 2] and _ids(k, m.clean_pages) == [3, 1]
    assert pages[0].list_id == PL_DIRTY and pages[0].dirtied_when == k.now()
    assert vl_radix_tree_tag_bits(m.page_tree) == []  # no tag in lists mode
    assert check_pagecache(k) == []


def test_test_clear_page_dirty_leaves_the_lists_and_removal_takes_the_page_off() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    m = inode.i_mapping
    write_page(k, inode, pages[1], 5)
    SetPageLocked(pages[1])
    clear_page_dirty(k, pages[1])
    assert pages[1].list_id == PL_DIRTY and not PageDirty(pages[1])
    remove_from_page_cache(k, pages[1])
    unlock_page(k, pages[1])
    assert pages[1].list_id == PL_NONE and pages[1].pfn not in m.dirty_pages
    assert _ids(k, m.clean_pages) == [2, 0]


def test_writepages_splices_walks_the_tail_and_fdatawait_empties_locked() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 6)
    m = inode.i_mapping
    for i in (4, 1, 3):
        write_page(k, inode, pages[i], i)
    t = fake_task(k)
    # a kupdate-style walk that writes one page: the oldest-dirtied (4) goes first
    wbc = WritebackControl(WB_SYNC_NONE, 1, False, False, True)
    walk = vl_do_writepages_frame(k, m, wbc)
    assert walk is not None
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert m.dirty_pages == [] and _ids(k, m.io_pages) == [3, 1]
    assert _ids(k, m.locked_pages) == [4] and PageWriteback(pages[4])
    assert all(pages[i].list_id == PL_IO for i in (1, 3))
    assert check_pagecache(k) == []
    # kupdate does not splice while io_pages is not empty
    write_page(k, inode, pages[0], 9)
    wbc2 = WritebackControl(WB_SYNC_NONE, 100, False, False, True)
    walk2 = vl_do_writepages_frame(k, m, wbc2)
    assert walk2 is not None
    drive(k, t, lambda: run_frame(k, t, walk2, wbc2))
    assert _ids(k, m.dirty_pages) == [0] and m.io_pages == []
    assert _ids(k, m.locked_pages) == [3, 1, 4]
    w = vl_fdatawait_frame(m)
    drive(k, t, lambda: run_frame(k, t, w))
    assert m.locked_pages == [] and w.visited == 3 and w.ret == 0
    assert not any(PageWriteback(p) for p in pages)
    assert sorted(_ids(k, m.clean_pages)) == [1, 2, 3, 4, 5]
    assert check_pagecache(k) == []


def test_a_page_under_writeback_goes_back_to_dirty_or_to_locked() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 2)
    m = inode.i_mapping
    write_page(k, inode, pages[0], 1)
    write_page(k, inode, pages[1], 1)
    t = fake_task(k)
    wbc = WritebackControl(WB_SYNC_NONE, 100)
    walk = vl_do_writepages_frame(k, m, wbc)
    assert walk is not None
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    assert PageWriteback(pages[0]) and PageWriteback(pages[1])
    write_page(k, inode, pages[0], 2)  # redirtied while under I/O
    assert pages[0].list_id == PL_DIRTY
    # put both on io_pages by hand and walk again while the I/O is in flight
    m.locked_pages.remove(pages[1].pfn)
    m.dirty_pages.remove(pages[0].pfn)
    m.io_pages[0:0] = [pages[1].pfn, pages[0].pfn]
    pages[0].list_id = PL_IO
    pages[1].list_id = PL_IO
    wbc2 = WritebackControl(WB_SYNC_NONE, 100)
    walk2 = MpageWritepages(m)
    drive(k, t, lambda: run_frame(k, t, walk2, wbc2))
    assert pages[0].list_id == PL_DIRTY and pages[1].list_id == PL_LOCKED
    assert walk2.written == 0 and walk2.visited == 2
    assert check_pagecache(k) == []


def test_checker_catches_list_errors_and_lists_in_tags_mode() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    m = inode.i_mapping
    SetPageDirty(pages[0])  # flag without the list move
    k.vmstat.nr_dirty += 1
    assert any("PG_dirty on clean_pages" in p for p in check_pagecache(k))
    m.clean_pages.remove(pages[1].pfn)
    assert any("on no list" in p for p in check_pagecache(k))
    kt = make_kernel("tags")
    it, _pt = make_file(kt, "g", 2)
    assert it.i_mapping.clean_pages == []
    it.i_mapping.dirty_pages.append(_pt[0].pfn)
    assert any("not empty in tags mode" in p for p in check_pagecache(kt))


def test_state_round_trips_in_the_middle_of_both_walks() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 20)
    for p in pages:
        write_page(k, inode, p, 3)
    m = inode.i_mapping
    t = fake_task(k, "pdflush")
    k.breakpoints["mpage_writepages:after_clear_dirty"] = "pdflush"
    wbc = WritebackControl(WB_SYNC_ALL, 100)
    walk = vl_do_writepages_frame(k, m, wbc)
    assert walk is not None
    assert run_frame(k, t, walk, wbc) == KOP_BLOCKED and t.state == TASK_STOPPED
    stack_round_trips(k, t.kstack)
    k.continue_task(t)
    drive(k, t, lambda: run_frame(k, t, walk, wbc))
    w = vl_fdatawait_frame(m)
    assert run_frame(k, t, w) == KOP_BLOCKED
    t.kstack[:] = reload_stack(k, t.kstack)
    w2 = t.kstack[-1]
    wait_woken(k, t)
    drive(k, t, lambda: run_frame(k, t, w2))
    assert m.locked_pages == [] and check_invariants(k) == []
    mm = save_mem_map(k.mem_map)
    assert save_mem_map(load_mem_map(mm)) == mm
    st1 = save_address_space(m)
    assert st1["clean_pages"] == m.clean_pages and len(m.clean_pages) == 20
    again = load_address_space(st1, k.mem_map.pages)  # re-links page.mapping: last
    assert save_address_space(again) == st1


# ---- random workload in lists mode ---------------------------------------------------------------


class ListsWorld(tpr.World):
    """test_pagecache_random's world on a lists-mode kernel.

    The checker runs after every event and the data oracle compares every cached and on-disk
    byte the cache does not shadow (vl_verify_files). Durability of acknowledged fsyncs is not
    asserted: on 2.6.5 the fsync races lose acknowledged data by design (see
    test_fsync_lists.py).
    """

    def check(self) -> None:
        self.nchecks += 1
        full = self.nchecks % 8 == 0
        problems = check_invariants(self.k) if full else check_pagecache(self.k)
        assert problems == [], problems
        if full:
            assert vl_verify_files(self.k) == []


def _lists_world() -> ListsWorld:
    orig = tpr.make_kernel
    tpr.make_kernel = lambda mem_mb=8, disk_mb=32, **cfg: make_kernel("lists", mem_mb, disk_mb)
    try:
        return ListsWorld()
    finally:
        tpr.make_kernel = orig


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tpr.ACTIONS, min_size=1, max_size=120))
def test_random_writeback_in_lists_mode(actions: list[tuple[object, ...]]) -> None:
    w = _lists_world()
    assert w.k.cfg.writeback == "lists"
    w.check()
    for action in actions:
        tpr._apply(w, action)
        w.check()
    w.finish()
    for inode in w.inodes:
        m = inode.i_mapping
        assert len(m.clean_pages) + len(m.dirty_pages) + len(m.io_pages) + len(
            m.locked_pages
        ) == m.nrpages


def test_lists_mode_kernel_done_flag() -> None:
    """The walk stops at nr_to_write and leaves the rest on io_pages (2.6.5)."""
    k = make_kernel()
    inode, pages = make_file(k, "f", 10)
    for p in pages:
        write_page(k, inode, p, 1)
    t = fake_task(k)
    wbc = WritebackControl(WB_SYNC_NONE, 4)
    walk = vl_do_writepages_frame(k, inode.i_mapping, wbc)
    assert walk is not None
    assert drive(k, t, lambda: run_frame(k, t, walk, wbc)) >= 1
    assert walk.written == 4 and len(inode.i_mapping.io_pages) == 6
    assert _ids(k, inode.i_mapping.io_pages) == [9, 8, 7, 6, 5, 4]
    assert run_frame(k, t, walk, wbc) == KOP_DONE


@pytest.mark.parametrize("name", ("default", "fsync-under-writeback", "page-cache-read",
                                  "shared-file-mmap", "swap-storm", "fork-cow"))
def test_builtin_scenarios_keep_their_data_in_lists_mode(name: str) -> None:
    """The built-ins run unchanged on the 2.6.5 lists (rmap anon_vma): every byte verified, the
    checker (list rules included) clean at the end."""
    import dataclasses

    from scenarios.library import load_builtin
    from scenarios.session import Session

    sc = load_builtin(name)
    sc = dataclasses.replace(sc, kernel=dataclasses.replace(sc.kernel, writeback="lists",
                                                            rmap="anon_vma"))
    s = Session(sc)
    assert s.kernel.cfg.writeback == "lists"
    assert s.run() == "end"
    m = s.metrics()
    assert m["data_verified"] == 1 and m["invariants_ok"] == 1
    assert m["acked_bytes_lost"] == 0
