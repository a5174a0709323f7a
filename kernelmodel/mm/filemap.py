"""The page cache: lookups, insertion and removal, reads (mm/filemap.c, 2.6.6).

Also the read side of the little filesystem's address_space operations (its ``readpage``,
standing for fs/mpage.c's mpage_readpage/mpage_readpages with one block per page) and a
simplified readahead (mm/readahead.c).

Each file's pages live in ``AddressSpace.page_tree`` (struct address_space, declared with
the inode in fs/fs.py as in include/linux/fs.h), a tagged radix tree keyed by page index,
with tags PAGECACHE_TAG_DIRTY and PAGECACHE_TAG_WRITEBACK (set and cleared by
page_writeback.py; radix_tree_delete clears both when a page leaves).

A page in the cache holds one reference for the cache (add_to_page_cache takes it,
truncate/reclaim drops it), is on an LRU list (add_to_page_cache_lru), has ``mapping`` and
``index`` set, and is locked while its contents are being read.

Model simplifications:
    * tree_lock is not modelled: each model step is atomic on the one CPU. Functions that the
      kernel calls "with tree_lock held" are named with a leading ``_`` and say so.
    * Readahead (``vl_ra_window``): a miss right after the previous page read is sequential,
      and the window doubles from 4 pages up to VM_MAX_READAHEAD (32 pages, 128 KiB); any
      other miss reads only the pages the request still needs. There is no ahead window:
      every window is read synchronously at the miss. Pages already cached are skipped, and
      contiguous blocks go to the disk as one request, as mpage_readpages builds one bio.
    * A page beyond EOF or over a hole is zero-filled and made uptodate without I/O.
    * The disk never fails, so PG_error is never set by a read.

Invariants:
    * ``nrpages`` equals the number of items in ``page_tree``;
    * for every page P in ``page_tree`` at index i: P.mapping is this AddressSpace and
      P.index == i, and P holds the cache's reference;
    * ``vmstat.nr_pagecache`` equals the sum of ``nrpages`` over every mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.fs.fs import BLOCK_SECTORS

# struct address_space is declared with the inode (include/linux/fs.h: fs/fs.py); the page
# cache's callers take it from here
from kernelmodel.fs.fs import AddressSpace as AddressSpace
from kernelmodel.include.bug import bug_on
from kernelmodel.include.page import (
    Page,
    PageAnon,
    PageLocked,
    PageUptodate,
    SetPageLocked,
    SetPageMappedToDisk,
    SetPageUptodate,
    get_page,
)
from kernelmodel.kernel.wait import page_locked_key, sleep_on
from kernelmodel.lib.radix_tree import (
    radix_tree_delete,
    radix_tree_gang_lookup,
    radix_tree_gang_lookup_tag,
    radix_tree_insert,
    radix_tree_lookup,
)
from kernelmodel.mm.page_lists import vl_lists_page_added, vl_lists_page_removed
from kernelmodel.mm.pagemap import TryLockPage, unlock_page

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

PAGE_SHIFT: Final = 12
PAGE_CACHE_SIZE: Final = 4096

PAGECACHE_TAG_DIRTY: Final = 0
PAGECACHE_TAG_WRITEBACK: Final = 1

#: mapping->flags bits above the gfp mask (include/linux/pagemap.h; __GFP_BITS_SHIFT is 16).
AS_EIO: Final = 16
AS_ENOSPC: Final = 17
AS_EIO_MASK: Final = 1 << AS_EIO
AS_ENOSPC_MASK: Final = 1 << AS_ENOSPC
#: The gfp mask bits of mapping->flags.
GFP_BITS_MASK: Final = 0xFFFF

#: include/linux/pagevec.h
PAGEVEC_SIZE: Final = 16
#: VM_MAX_READAHEAD (128 KiB) in pages, and the first window of a sequential reader.
VM_MAX_READAHEAD_PAGES: Final = 32
VL_RA_INITIAL_PAGES: Final = 4

#: Simulated cost of copying one 4 KiB page between user and page cache (ns).
VL_COPY_NS_PER_PAGE: Final = 1000

#: vl_find_lock_page results.
FLP_FOUND: Final = 0
FLP_ABSENT: Final = 1
FLP_BLOCKED: Final = 2

EEXIST: Final = 17


# ---- small helpers ----------------------------------------------------------------------------


def page_mapping(page: Page) -> AddressSpace | None:
    """page_mapping() as in 2.6.6: NULL for anonymous pages (swapcache included), else mapping.

    2.6.7 returns &swapper_space for PG_swapcache pages; the swap cache code provides that
    variant (the model keeps 2.6.6's rule here, so swapcache pages are never tagged).
    """
    if PageAnon(page):
        return None
    m = page.mapping
    if isinstance(m, AddressSpace):
        return m
    return None


def vl_pfn_to_page(k: Kernel, pfn: int) -> Page:
    """pfn_to_page on the kernel's mem_map."""
    return k.mem_map.pages[pfn]


def vl_copy_ns(nbytes: int) -> int:
    """Simulated time to copy ``nbytes`` between user space and the page cache."""
    return (nbytes * VL_COPY_NS_PER_PAGE + PAGE_CACHE_SIZE - 1) // PAGE_CACHE_SIZE


def mapping_set_error(mapping: AddressSpace, bit: int) -> None:
    """set_bit(AS_EIO or AS_ENOSPC, &mapping->flags): latch a writeback error."""
    mapping.flags |= 1 << bit


def mapping_test_clear_error(mapping: AddressSpace, bit: int) -> bool:
    """test_and_clear_bit(AS_EIO or AS_ENOSPC, &mapping->flags)."""
    mask = 1 << bit
    old = mapping.flags
    mapping.flags = old & ~mask
    return (old & mask) != 0


# ---- lookups ----------------------------------------------------------------------------------


def vl_find_page_nolock(mapping: AddressSpace, index: int) -> Page | None:
    """radix_tree_lookup on the page cache, without taking a reference (checkers, the UI)."""
    item = radix_tree_lookup(mapping.page_tree, index)
    if item is None:
        return None
    assert isinstance(item, Page)
    return item


def find_get_page(mapping: AddressSpace, index: int) -> Page | None:
    """find_get_page: look up a page and take a reference on it.

    Caller: drops the reference with page_cache_release.
    """
    page = vl_find_page_nolock(mapping, index)
    if page is not None:
        get_page(page)
    return page


def vl_find_lock_page(
    k: Kernel, task: Task, mapping: AddressSpace, index: int
) -> tuple[int, Page | None]:
    """find_lock_page: look up a page, lock it, and take a reference.

    In C this sleeps in lock_page and then re-checks that the page was not truncated meanwhile.
    Here, when the page is locked by someone else, the task sleeps on the page lock and the
    caller retries the whole lookup when woken (no reference is held while asleep).

    Returns:
        (FLP_FOUND, page) locked with a reference; (FLP_ABSENT, None) when the page is not in
        the cache; (FLP_BLOCKED, None) when the task went to sleep (the op returns
        KOP_BLOCKED and calls again).
    """
    page = vl_find_page_nolock(mapping, index)
    if page is None:
        return FLP_ABSENT, None
    if not TryLockPage(page):
        sleep_on(k, task, page_locked_key(page.pfn))
        return FLP_BLOCKED, None
    get_page(page)
    return FLP_FOUND, page


def find_get_pages(mapping: AddressSpace, start: int, nr_pages: int) -> list[Page]:
    """find_get_pages (pagevec_lookup): up to ``nr_pages`` pages from ``start``, referenced."""
    out: list[Page] = []
    for item in radix_tree_gang_lookup(mapping.page_tree, start, nr_pages):
        assert isinstance(item, Page)
        get_page(item)
        out.append(item)
    return out


def find_get_pages_tag(
    mapping: AddressSpace, index: int, tag: int, nr_pages: int
) -> tuple[list[Page], int]:
    """find_get_pages_tag (pagevec_lookup_tag): tagged pages from ``index``, referenced.

    Returns:
        (pages in ascending index order, the index after the last page found, or ``index``
        unchanged when none was found).
    """
    out: list[Page] = []
    for item in radix_tree_gang_lookup_tag(mapping.page_tree, index, nr_pages, tag):
        assert isinstance(item, Page)
        get_page(item)
        out.append(item)
    if out:
        index = out[len(out) - 1].index + 1
    return out, index


# ---- insertion and removal --------------------------------------------------------------------


def add_to_page_cache(k: Kernel, page: Page, mapping: AddressSpace, index: int) -> int:
    """add_to_page_cache: insert a new page at ``index``, locked, with the cache's reference.

    In the 2.6.5 list mode the page also goes to the head of ``clean_pages``.

    Returns:
        0, -EEXIST when the index is taken, or -ENOMEM from the radix tree.

    Caller: the page is not in any cache and holds the caller's reference.
    """
    bug_on(page.mapping is not None, "add_to_page_cache: page already has a mapping")
    error = radix_tree_insert(mapping.page_tree, index, page)
    if error != 0:
        return error
    get_page(page)
    SetPageLocked(page)
    page.mapping = mapping
    page.index = index
    mapping.nrpages += 1
    k.vmstat.nr_pagecache += 1
    vl_lists_page_added(k, mapping, page)
    return 0


def add_to_page_cache_lru(k: Kernel, page: Page, mapping: AddressSpace, index: int) -> int:
    """add_to_page_cache_lru: add_to_page_cache, then lru_cache_add on success."""
    from kernelmodel.mm.swap import lru_cache_add

    error = add_to_page_cache(k, page, mapping, index)
    if error == 0:
        lru_cache_add(k, page)
    return error


def _remove_from_page_cache(k: Kernel, page: Page) -> None:
    """__remove_from_page_cache: take the page out of its mapping's tree.

    radix_tree_delete clears the page's DIRTY and WRITEBACK tags; in the 2.6.5 list mode the
    page also leaves its page->list list. The cache's reference is not dropped here (the
    caller does page_cache_release).

    Caller: holds mapping->tree_lock and the page lock.
    """
    mapping = page.mapping
    assert isinstance(mapping, AddressSpace)
    item = radix_tree_delete(mapping.page_tree, page.index)
    bug_on(item is not page, "__remove_from_page_cache: tree holds another page")
    vl_lists_page_removed(k, mapping, page)
    page.mapping = None
    mapping.nrpages -= 1
    k.vmstat.nr_pagecache -= 1


def remove_from_page_cache(k: Kernel, page: Page) -> None:
    """remove_from_page_cache: __remove_from_page_cache under tree_lock.

    Caller: holds the page lock (PAGE_BUG otherwise, as in 2.6.6).
    """
    bug_on(not PageLocked(page), "remove_from_page_cache: page not locked")
    bug_on(not isinstance(page.mapping, AddressSpace), "remove_from_page_cache: no mapping")
    _remove_from_page_cache(k, page)


# ---- reading pages in (the filesystem's readpage, fs/mpage.c; mm/readahead.c) ----------------


def _mapping_block(k: Kernel, mapping: AddressSpace, index: int) -> int:
    """The disk block behind page ``index``: -1 for a hole or a page beyond EOF."""
    inode = k.sb.s_inodes.get(mapping.host)
    if inode is None:
        return -1
    if (index << PAGE_SHIFT) >= inode.i_size:
        return -1
    return inode.i_blocks.get(index, -1)


def _fill_hole(k: Kernel, page: Page) -> None:
    """do_mpage_readpage on a page with no block: zero it, mark it uptodate, unlock it."""
    k.machine.mem.zero_frame(page.pfn)
    SetPageUptodate(page)
    unlock_page(k, page)


def vl_readpage(k: Kernel, page: Page) -> int:
    """a_ops->readpage (mpage_readpage): start reading a locked page-cache page.

    The read's completion (bio.py, END_IO_READ) marks the page uptodate and unlocks it; a hole
    or a page beyond EOF is zero-filled and unlocked at once.

    Returns:
        1 when a disk read was submitted, 0 when the page was filled without I/O.

    Caller: holds the page lock; the page is in its mapping and not uptodate.
    """
    from kernelmodel.fs.bio import END_IO_READ, READ, submit_bio

    mapping = page.mapping
    assert isinstance(mapping, AddressSpace)
    block = _mapping_block(k, mapping, page.index)
    if block < 0:
        _fill_hole(k, page)
        return 0
    SetPageMappedToDisk(page)
    submit_bio(k, READ, block * BLOCK_SECTORS, [page], END_IO_READ)
    return 1


def _read_pages(k: Kernel, mapping: AddressSpace, pages: list[Page]) -> int:
    """read_pages / mpage_readpages: submit reads for locked new pages in index order.

    Pages at consecutive indices on consecutive blocks share one request.

    Returns:
        The number of disk requests submitted.
    """
    from kernelmodel.fs.bio import END_IO_READ, READ, submit_bio

    nreq = 0
    run: list[Page] = []
    run_block = -1
    for page in pages:
        block = _mapping_block(k, mapping, page.index)
        if run and (block < 0 or block != run_block + len(run)
                    or page.index != run[len(run) - 1].index + 1):
            submit_bio(k, READ, run_block * BLOCK_SECTORS, run, END_IO_READ)
            nreq += 1
            run = []
        if block < 0:
            _fill_hole(k, page)
            continue
        SetPageMappedToDisk(page)
        if not run:
            run_block = block
        run.append(page)
    if run:
        submit_bio(k, READ, run_block * BLOCK_SECTORS, run, END_IO_READ)
        nreq += 1
    return nreq


def do_page_cache_readahead(k: Kernel, mapping: AddressSpace, index: int, nr: int) -> int:
    """__do_page_cache_readahead: read up to ``nr`` pages from ``index`` into the cache.

    Pages already cached are skipped; pages past EOF are not read. Allocation stops the
    window early when memory is short (readahead is best effort). Each new page is added to
    the cache and the LRU, and loses the allocation reference (the cache keeps its own).

    Returns:
        The number of pages added to the cache.
    """
    from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page

    inode = k.sb.s_inodes.get(mapping.host)
    if inode is None or inode.i_size == 0:
        return 0
    end_index = (inode.i_size - 1) >> PAGE_SHIFT
    last = min(index + nr - 1, end_index)
    fresh: list[Page] = []
    i = index
    while i <= last:
        if vl_find_page_nolock(mapping, i) is None:
            page = vl_alloc_page(k, mapping.flags & GFP_BITS_MASK)
            if page is None:
                break
            if add_to_page_cache_lru(k, page, mapping, i) == 0:
                fresh.append(page)
            page_cache_release(k, page)
        i += 1
    if fresh:
        _read_pages(k, mapping, fresh)
    return len(fresh)


def vl_ra_window(index: int, prev_page: int, prev_size: int, wanted: int) -> int:
    """The readahead window for a miss at ``index`` (simplified page_cache_readahead).

    Args:
        prev_page: the last page the file read (-1 before any read).
        prev_size: the window of the previous miss (0 before any).
        wanted: pages the current request still needs from ``index`` (>= 1).
    """
    sequential = index == prev_page + 1 or (prev_page < 0 and index == 0)
    if not sequential:
        return max(1, min(wanted, VM_MAX_READAHEAD_PAGES))
    size = max(prev_size * 2, VL_RA_INITIAL_PAGES, wanted)
    return min(size, VM_MAX_READAHEAD_PAGES)


# ---- the fault path ---------------------------------------------------------------------------


def vl_filemap_nopage(k: Kernel, task: Task, mapping: AddressSpace, index: int) -> Page | None:
    """filemap_nopage: the page at ``index`` for a fault, uptodate, with a reference.

    In C this sleeps until the page is read. Here it returns None after putting the task to
    sleep (the fault op returns KOP_BLOCKED and calls again when woken): when it started a
    read (counted as a major fault: pgmajfault and task.maj_flt, as filemap_nopage does),
    when the page is locked by a read in flight, or when memory is short. A hole is filled
    with zeros at once and returned. Faults read only the faulting page (no read-around).

    Caller: ``index`` is below the file's size in pages (the fault path checks i_size).
    """
    from kernelmodel.mm.alloc import page_cache_release, vl_alloc_page, vl_wait_for_memory

    page = find_get_page(mapping, index)
    if page is None:
        page = vl_alloc_page(k, mapping.flags & GFP_BITS_MASK)
        if page is None:
            vl_wait_for_memory(k, task)
            return None
        if add_to_page_cache_lru(k, page, mapping, index) != 0:
            # raced with another reader (-EEXIST) or the tree is out of nodes: retry the lookup
            page_cache_release(k, page)
            page = find_get_page(mapping, index)
            if page is None:
                vl_wait_for_memory(k, task)
                return None
        else:
            return _nopage_read(k, task, page)
    if PageUptodate(page):
        return page
    if PageLocked(page):
        page_cache_release(k, page)
        sleep_on(k, task, page_locked_key(page.pfn))
        return None
    # not uptodate and unlocked (a write that gave up): lock it and read it again
    SetPageLocked(page)
    return _nopage_read(k, task, page)


def _nopage_read(k: Kernel, task: Task, page: Page) -> Page | None:
    """page_cache_read's second half for the fault path.

    Starts the read of a locked page the caller holds a reference on. A filled hole is
    returned at once with that reference; otherwise the reference is dropped, the fault is
    counted as major and the task sleeps on the page lock.
    """
    from kernelmodel.mm.alloc import page_cache_release

    if vl_readpage(k, page) == 0:
        return page
    k.vmstat.pgmajfault += 1
    task.maj_flt += 1
    page_cache_release(k, page)
    sleep_on(k, task, page_locked_key(page.pfn))
    return None
