"""2.6.5's reclaim details (vmscan.py): shrink_list files a page it writes on locked_pages
(so 2.6.5's filemap_fdatawait waits for reclaim's writes); try_to_free_pages kicks pdflush on
every pass; kswapd never naps (2.6.5's zone->pages_scanned stays 0)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_fsync_lists import _open, _run, make_kernel
from test_swap_support import file_page
from test_swap_support import make_kernel as swap_kernel
from test_vmscan import isolate
from test_wb_support import fake_task, make_file, write_page

from kernelmodel.fs.fsync import FsyncOp
from kernelmodel.include.mmzone import DEF_PRIORITY
from kernelmodel.include.page import PageDirty, PageWriteback, TestSetPageLocked
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_BLOCKED, KOP_DONE, Task
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.page_alloc import GFP_KERNEL
from kernelmodel.mm.page_lists import PL_DIRTY, PL_LOCKED
from kernelmodel.mm.pdflush import PDFLUSH_BACKGROUND_WRITEOUT, PdflushOp
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.mm.vmscan import (
    KSWAPD_SLEEP,
    KSWAPD_WAIT_KEY,
    KSWAPD_WOKEN,
    KswapdOp,
    try_to_free_pages,
)
from kernelmodel.mm.vmscan_pageout import shrink_list
from kernelmodel.oracle.oracle import vl_verify_durable
from tests.kernelmodel.frames_support import run_frame


def _reclaim_writes_then_fsync(mode: str) -> tuple[int, int, int]:
    """Reclaim starts the write of a file's one dirty page; fsync; power cut at its return.

    Returns (the page's list_id after shrink_list, fsync's result, acknowledged bytes lost).
    """
    k = make_kernel(mode)
    inode, pages = make_file(k, "f", 4)
    p = pages[2]
    write_page(k, inode, p, 0x5A)
    lru_add_drain(k)
    if mode == "lists":
        assert p.list_id == PL_DIRTY
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p] and PageWriteback(p) and not PageDirty(p)
    list_id = p.list_id
    t = fake_task(k, "app")
    _open(k, t, inode, "f")
    op = FsyncOp("f", False)
    done = [False]

    def fsync_step() -> int:
        r = run_frame(k, t, op)
        done[0] = r == KOP_DONE
        return r

    jobs: list[tuple[Task, Callable[[], int]]] = [(t, fsync_step)]
    _run(k, jobs, lambda: done[0])
    k.machine.disk.power_cut()
    lost, _problems = vl_verify_durable(k)
    return list_id, op.result, lost


def test_lists_reclaim_write_is_on_locked_pages_and_fsync_waits_for_it() -> None:
    list_id, ret, lost = _reclaim_writes_then_fsync("lists")
    assert list_id == PL_LOCKED  # moved there before ->writepage
    assert ret == 0 and lost == 0  # fdatawait found it on locked_pages and waited


def test_tags_fsync_waits_for_reclaim_write_through_the_writeback_tag() -> None:
    list_id, ret, lost = _reclaim_writes_then_fsync("tags")
    assert list_id == 0 and ret == 0 and lost == 0


# ---- try_to_free_pages: wakeup_bdflush on every pass (2.6.5) --------------------------------

RELEASES = {"2.6.5": ("2.6.5", "lists", "pte_chain"), "2.6.6": ("2.6.6", "tags", "pte_chain")}


def _idle_pdflush(k: Kernel) -> int:
    return len(k.wb.pdflush_list)


@pytest.mark.parametrize("release", ("2.6.5", "2.6.6"))
def test_direct_reclaim_kicks_pdflush_on_every_pass_only_on_2_6_5(release: str) -> None:
    """Nothing on the LRU: every pass scans nothing, the call runs priorities 12 .. 0."""
    k = swap_kernel(design=RELEASES[release])
    k.machine.run_until(1_000_000, 100)  # the pdflush threads' first slices: they go idle
    idle = _idle_pdflush(k)
    assert idle >= 1
    k.current = 42
    freed = try_to_free_pages(k, GFP_KERNEL)
    k.current = -1
    assert freed == 0 and 42 not in k.kswapd.direct  # no nap: nothing was scanned
    kicked = [op for op in _pdflush_ops(k) if op.fn == PDFLUSH_BACKGROUND_WRITEOUT]
    if release == "2.6.5":
        # wakeup_bdflush(0) after the first pass: "all dirty pages" (none here)
        assert _idle_pdflush(k) == idle - len(kicked) and len(kicked) >= 1
    else:
        assert _idle_pdflush(k) == idle and kicked == []  # 0 scanned is not above 48


def _pdflush_ops(k: Kernel) -> list[PdflushOp]:
    return [op for t in k.tasks.values() for op in t.kstack if isinstance(op, PdflushOp)]


# ---- kswapd: 2.6.5 never naps ------------------------------------------------------------------


@pytest.mark.parametrize("release", ("2.6.5", "2.6.6"))
def test_kswapd_naps_below_priority_10_except_on_2_6_5(release: str) -> None:
    """Inactive pages someone else holds locked: kswapd scans them and frees nothing."""
    k = swap_kernel(design=RELEASES[release])
    kswapd = k.tasks[k.kswapd.pid]
    k.machine.run_until(1_000_000, 100)
    assert kswapd.wait_key == KSWAPD_WAIT_KEY
    zone = k.pgdat.zone
    mapping = AddressSpace(0)
    held = []
    while zone.free_pages > zone.pages_low:
        held.append(file_page(k, mapping, len(held)))
    lru_add_drain(k)
    for p in held:
        assert not TestSetPageLocked(p)
    op = kswapd.kstack[0]
    assert isinstance(op, KswapdOp)
    k.current = kswapd.pid
    op.phase = KSWAPD_WOKEN
    results = []
    while op.phase != KSWAPD_SLEEP:
        results.append(run_frame(k, kswapd, op))
        if results[-1] == KOP_BLOCKED:
            break
    k.current = -1
    assert k.vmstat.pgscan > 0 and k.vmstat.pgsteal == 0
    if release == "2.6.5":
        assert KOP_BLOCKED not in results  # priorities 12 .. 1 back to back
        assert zone.pages_scanned == 0 and not zone.all_unreclaimable
    else:
        # blk_congestion_wait after the first pass below priority 10 that scanned anything
        assert results[-1] == KOP_BLOCKED and op.priority + 1 < DEF_PRIORITY - 2
        assert zone.pages_scanned > 0
