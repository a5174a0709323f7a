"""Page locking and page waits (include/linux/pagemap.h, mm/filemap.c: lock_page, unlock_page,
wait_on_page_locked, wait_on_page_writeback; 2.6.6).

In C these sleep inside the function. In the model a kernel op calls the ``vl_`` form, which
either succeeds at once or puts the task to sleep on the page's wait queue and returns False;
the op then returns KOP_BLOCKED and retries the same phase when woken.

Invariants:
    * only the task that locked a page unlocks it (not checked: the kernel does not either);
    * unlock_page and end_page_writeback always wake the page's queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import ClearPageLocked, PageLocked, PageWriteback, TestSetPageLocked
from kernelmodel.kernel.wait import page_locked_key, page_writeback_key, sleep_on, wake_up

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task


def vl_lock_page(k: Kernel, task: Task, page: Page) -> bool:
    """lock_page(page): take PG_locked, or sleep until it is released.

    Returns True when the caller now holds the lock; False when the task went to sleep (the
    op must return KOP_BLOCKED and call again on wake).
    """
    if not TestSetPageLocked(page):
        return True
    sleep_on(k, task, page_locked_key(page.pfn))
    return False


def TryLockPage(page: Page) -> bool:
    """TestSetPageLocked as a trylock: True when the lock was taken."""
    return not TestSetPageLocked(page)


def unlock_page(k: Kernel, page: Page) -> None:
    """unlock_page(page): clear PG_locked and wake the waiters.

    Caller: holds the page lock.
    """
    bug_on(not PageLocked(page), "unlock_page: page not locked")
    ClearPageLocked(page)
    wake_up(k, page_locked_key(page.pfn))


def vl_wait_on_page_locked(k: Kernel, task: Task, page: Page) -> bool:
    """wait_on_page_locked(page): True if the page is unlocked, else sleep and return False."""
    if not PageLocked(page):
        return True
    sleep_on(k, task, page_locked_key(page.pfn))
    return False


def vl_wait_on_page_writeback(k: Kernel, task: Task, page: Page) -> bool:
    """wait_on_page_writeback(page): True if not under writeback, else sleep and return False."""
    if not PageWriteback(page):
        return True
    sleep_on(k, task, page_writeback_key(page.pfn))
    return False
