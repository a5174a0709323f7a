"""Reclaim's swap writeout and queue congestion (vmscan.py: may_write_to_queue, pageout).

In 2.6.5, 2.6.6 and 2.6.7 a swap-cache page's backing_dev_info is swap_backing_dev_info,
which never reads as congested: direct reclaim writes swap pages whatever the disk's queue
holds, and only file pages wait for an uncongested queue.
"""

from __future__ import annotations

import pytest
from test_swap_support import file_page, make_kernel
from test_vmscan import anon_pages, deactivate, isolate

from kernelmodel.include.page import (
    PageDirty,
    PageLocked,
    PageReclaim,
    PageSwapCache,
    PageWriteback,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.mm.page_alloc import GFP_KERNEL
from kernelmodel.mm.page_writeback import NR_CONGESTION_ON, bdi_write_congested
from kernelmodel.mm.rmap import page_referenced
from kernelmodel.mm.swap import lru_add_drain
from kernelmodel.mm.vmscan_pageout import may_write_to_queue, shrink_list

DESIGNS = [("2.6.5", "lists", "pte_chain"), ("2.6.6", "tags", "pte_chain"),
           ("2.6.7", "tags", "anon_vma")]


def congest(k: Kernel) -> None:
    """Fill the disk's queue to the congestion mark with reads far apart (no merging)."""
    disk = k.machine.disk
    for i in range(NR_CONGESTION_ON):
        disk.submit(i * 64, 8, False, b"", -1)
    assert bdi_write_congested(k)


@pytest.mark.parametrize("design", DESIGNS)
def test_direct_reclaim_writes_a_swap_page_to_a_congested_queue(
    design: tuple[str, str, str],
) -> None:
    k = make_kernel(design=design)
    pages, _mm = anon_pages(k, 1)
    p = pages[0]
    deactivate(k, p)
    page_referenced(k, p)  # the page looks idle
    congest(k)
    assert k.current < 0  # not kswapd, not pdflush: the congestion test applies to files
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p]
    assert PageSwapCache(p) and PageWriteback(p) and PageReclaim(p)
    assert not PageDirty(p) and not PageLocked(p)
    assert k.vmstat.pswpout == 1


@pytest.mark.parametrize("design", DESIGNS)
def test_direct_reclaim_keeps_a_dirty_file_page_while_congested(
    design: tuple[str, str, str],
) -> None:
    from kernelmodel.fs.fs import vl_create_file
    from kernelmodel.mm.page_writeback import set_page_dirty

    k = make_kernel(design=design)
    inode = vl_create_file(k, "data", 4 * 4096, "zero", 3)
    p = file_page(k, inode.i_mapping, 1)
    lru_add_drain(k)
    set_page_dirty(k, p)
    congest(k)
    isolate(k, p)
    freed, _extra, kept = shrink_list(k, [p], GFP_KERNEL, False)
    assert freed == 0 and kept == [p]
    assert PageDirty(p) and not PageWriteback(p) and not PageLocked(p)


def test_may_write_to_queue_by_backing_dev() -> None:
    k = make_kernel()
    assert may_write_to_queue(k, False) and may_write_to_queue(k, True)
    congest(k)
    assert not may_write_to_queue(k, False)  # the disk's bdi: congested
    assert may_write_to_queue(k, True)  # swap_backing_dev_info: never congested
