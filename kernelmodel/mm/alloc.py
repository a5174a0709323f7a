"""The kernel's page-allocation path around the buddy allocator (mm/page_alloc.c: __alloc_pages'
reclaim loop; mm/swap.c: put_page / __page_cache_release; 2.6.6, the same in 2.6.5 and 2.6.7).

``page_alloc.py`` is the buddy allocator and its watermark passes; it never reclaims. This
module adds what ``__alloc_pages`` does around them: wake kswapd, direct reclaim through
``try_to_free_pages``, and the final pass. Where C would sleep in ``blk_congestion_wait`` and
loop, the model returns None and the calling kernel op sleeps with ``vl_wait_for_memory`` and
retries its phase (the "blocking is data" rule).

Invariants:
    * a page returned has _count == 1, no flags but those prep_new_page leaves, no mapping;
    * a page freed here has no mapping, is not mapped, and is off the LRU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import Page, PageLRU, page_mapcount, put_page_testzero
from kernelmodel.kernel.task import PF_MEMALLOC
from kernelmodel.kernel.wait import sleep_on
from kernelmodel.mm.page_alloc import (
    _GFP_WAIT,
    GFP_HIGHUSER,
    GFP_KERNEL,
    GFP_NOFS,
    GFP_NOIO,
    GFP_USER,
    free_hot_page,
    vl_alloc_after_reclaim,
    vl_alloc_fast,
    vl_alloc_no_watermarks,
)

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

__all__ = [
    "GFP_HIGHUSER",
    "GFP_KERNEL",
    "GFP_NOFS",
    "GFP_NOIO",
    "GFP_USER",
    "page_cache_release",
    "vl_alloc_page",
    "vl_free_page",
    "vl_wait_for_memory",
]

#: blk_congestion_wait(WRITE, HZ/50) with HZ = 1000: 20 ms.
CONGESTION_WAIT_NS: Final = 20_000_000


def _wake_kswapd_if_asked(k: Kernel) -> None:
    if k.pgdat.kswapd_wakeup_pending:
        k.pgdat.kswapd_wakeup_pending = False
        from kernelmodel.mm.vmscan import wakeup_kswapd

        wakeup_kswapd(k)


def vl_alloc_page(k: Kernel, gfp_mask: int) -> Page | None:
    """__alloc_pages(gfp_mask, 0): one page, reclaiming synchronously if it must.

    Returns None when no page can be had right now; the caller (a kernel op) then calls
    ``vl_wait_for_memory`` and retries. Direct reclaim (try_to_free_pages) starts writeback
    but never sleeps here. Reclaim itself runs with PF_MEMALLOC and may use the reserves.

    Caller: a kernel op step of the current task (or a kernel thread).
    """
    page = vl_alloc_fast(k.pgdat, gfp_mask, 0)
    _wake_kswapd_if_asked(k)
    if page is not None:
        return page
    task = k.tasks.get(k.current)
    if task is not None and (task.flags & PF_MEMALLOC) != 0:
        return vl_alloc_no_watermarks(k.pgdat, gfp_mask, 0)
    if (gfp_mask & _GFP_WAIT) == 0:
        return None
    from kernelmodel.mm.vmscan import try_to_free_pages

    k.vmstat.allocstall += 1
    saved = 0
    if task is not None:
        saved = task.flags & PF_MEMALLOC
        task.flags |= PF_MEMALLOC
    try_to_free_pages(k, gfp_mask)
    if task is not None:
        task.flags = (task.flags & ~PF_MEMALLOC) | saved
    return vl_alloc_after_reclaim(k.pgdat, gfp_mask, 0)


def vl_wait_for_memory(k: Kernel, task: Task) -> None:
    """blk_congestion_wait(WRITE, HZ/50) after a failed allocation: sleep 20 ms (or until woken).

    Caller: an op whose allocation returned None; it returns KOP_BLOCKED next and retries.
    """
    sleep_on(k, task, "congestion wait")
    k.schedule_timeout(task, CONGESTION_WAIT_NS)


def vl_free_page(k: Kernel, page: Page) -> None:
    """__page_cache_release + free_hot_page: the last reference is gone; free the frame.

    Caller: the page's count just dropped to 0.
    """
    bug_on(page_mapcount(page) != 0, "vl_free_page: page still mapped")
    bug_on(page.mapping is not None, "vl_free_page: page still has a mapping")
    if PageLRU(page):
        from kernelmodel.mm.swap import vl_lru_del_if_on

        vl_lru_del_if_on(k, page)
    free_hot_page(k.pgdat, page)


def page_cache_release(k: Kernel, page: Page) -> None:
    """page_cache_release(page) = put_page(page): drop a reference, free at zero."""
    if put_page_testzero(page):
        vl_free_page(k, page)
