"""The swap cache (mm/swap_state.c, mm/page_io.c, 2.6.6 after Hugh Dickins' rmap 2).

A page in the swap cache has PG_swapcache set and its swp_entry_t value in ``page->private``
(the 2.6.5 profile with pte chains keeps 2.6.5's form instead: ``mapping`` = swapper_space,
``index`` = the entry; swapcache_fields.py says which, and ``page_swp_entry`` reads it);
``swapper_space.page_tree`` maps the entry value to the page. Since rmap 2 (2.6.6-rc1) the
swap cache no longer uses ``page->mapping``/``page->index`` (they stay free for the anon_vma
and the linear index), and ``swapper_space`` is "a fiction, retained to simplify the path
through vmscan's shrink_list": only its tree and page count are used. In 2.6.6
``page_mapping()`` of a swap-cache page is NULL, so **the swapper_space tree is never tagged**:
dirtying and writeback of swap-cache pages touch only the PG_ flags (2.6.7-rc1 restored the
tags). The cache holds one page reference and one swap_map reference per page.

Swap I/O is one bio per page at the slot's sectors (swapfile.map_swap_page):
``swap_writepage`` (END_IO_SWAP_WRITE) and ``swap_readpage`` (END_IO_SWAP_READ). A read leaves
the page locked until the I/O completes. pswpout/pswpin are counted by bio.py's submit_bio for
swap bios (the kernel counts them here, in swap_writepage/swap_readpage: the same events).

Model simplifications:
    * no radix-tree preload and no GFP_ATOMIC failure: insertion into swapper_space never
      fails with -ENOMEM (the model's radix tree allocates nodes freely), so add_to_swap's
      PF_MEMALLOC juggling has nothing to protect and is not modelled;
    * the kernel counts swap-cache pages in page_state.nr_pagecache (pagecache_acct); the model
      keeps them in nr_swapcache (= total_swapcache_pages) and leaves nr_pagecache to the file
      page cache, so each gauge has one meaning.

Invariants (check_swap.py):
    * a page is in the tree under key ``e`` iff it has PG_swapcache and its entry is ``e``;
    * ``swapper_space.nrpages`` (total_swapcache_pages) and vmstat.nr_swapcache equal the
      number of pages in the tree;
    * the slot of every swap-cache page is in use (its swap_map count includes the cache's).

Lock ordering: swapper_space.tree_lock is innermost (not taken: one CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.page import (
    ClearPageSwapCache,
    ClearPageUptodate,
    Page,
    PageLocked,
    PagePrivate,
    PageSwapCache,
    PageWriteback,
    SetPageDirty,
    SetPageLocked,
    SetPageSwapCache,
    SetPageUptodate,
    TestSetPageLocked,
    get_page,
)
from kernelmodel.include.vmstat import TR_SWAP_IN, TR_SWAP_OUT
from kernelmodel.kernel.wait import page_locked_key, sleep_on
from kernelmodel.lib.radix_tree import (
    EEXIST,
    RadixTreeRoot,
    radix_tree_delete,
    radix_tree_insert,
    radix_tree_lookup,
    vl_radix_tree_items,
)
from kernelmodel.mm.page_alloc import GFP_HIGHUSER
from kernelmodel.mm.pgtable import swp_entry, swp_type
from kernelmodel.mm.swapcache_fields import page_swp_entry, vl_swapcache_by_mapping
from kernelmodel.mm.swapfile import (
    get_swap_page,
    remove_exclusive_swap_page,
    swap_duplicate,
    swap_free,
    valid_swaphandles,
    vl_entry_sector,
)
from machine.state_read import read_dict, read_int_list

if TYPE_CHECKING:
    from kernelmodel.include.page import MemMap
    from kernelmodel.include.writeback import WritebackControl
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task

ENOENT: Final = 2
ENOMEM: Final = 12

# Outcomes of vl_read_swap_cache (read_swap_cache_async without the sleep).
SWAPIN_FOUND: Final = 0  # the entry's page was already in the swap cache
SWAPIN_STARTED: Final = 1  # a new page was added and its read submitted
SWAPIN_NOMEM: Final = 2  # no page could be allocated
SWAPIN_NOENT: Final = 3  # the entry was freed meanwhile (-ENOENT)


#: How the swap cache's checked reads name it in an error.
_WHAT: Final = "swapper_space state"

@final
class SwapperSpace:
    """swapper_space (mm/swap_state.c): the swap cache's address_space.

    Attributes:
        page_tree: entry value -> Page (never tagged in 2.6.6).
        nrpages: total_swapcache_pages.
        add_total, del_total, find_success, find_total, noent_race, exist_race: the
            swap_cache_info statistics show_swap_cache_info prints.
    """

    # state context: mem_map: MemMap from kernelmodel.include.page
    def __init__(self) -> None:
        self.page_tree: RadixTreeRoot = RadixTreeRoot()  # state: custom
        self.nrpages: int = 0  # state
        # swap_cache_info, saved as one list "stats" in this order
        self.add_total: int = 0  # state: pack=stats
        self.del_total: int = 0  # state: pack=stats
        self.find_success: int = 0  # state: pack=stats
        self.find_total: int = 0  # state: pack=stats
        self.noent_race: int = 0  # state: pack=stats
        self.exist_race: int = 0  # state: pack=stats

    def vl_describe(self) -> str:
        """Short text for page reprs and the UI."""
        return "swapper_space"

    def vl_save_page_tree(self, out: dict[str, object]) -> None:
        """The tree's shape, and the pfn at each key in key order (``pfns``)."""
        out["page_tree"] = self.page_tree.to_state()
        out["pfns"] = [_page_pfn(item) for _index, item in vl_radix_tree_items(self.page_tree)]

    def vl_load_page_tree(self, state: dict[str, object], mem_map: MemMap) -> None:
        """The tree back over a restored mem_map (``page.mapping`` is re-linked by restore,
        only where 2.6.5 points swap-cache pages at swapper_space)."""
        tree = read_dict(state, "page_tree", _WHAT)
        items: list[object] = []
        for pfn in read_int_list(state, "pfns", _WHAT):
            if not 0 <= pfn < mem_map.nframes:
                raise ValueError(f"{_WHAT}: bad pfn")
            items.append(mem_map.pages[pfn])
        self.page_tree = RadixTreeRoot.from_state(tree, items)

    def __repr__(self) -> str:
        return f"<swapper_space nrpages={self.nrpages}>"


def _page_pfn(item: object) -> int:
    """The pfn of a swapper_space item (always a Page)."""
    if not isinstance(item, Page):
        raise KernelBug("swapper_space: non-page item in the tree")
    return item.pfn


def _page_cache_release(k: Kernel, page: Page) -> None:
    from kernelmodel.mm.alloc import page_cache_release

    page_cache_release(k, page)


def vl_swapper_lookup(k: Kernel, entry: int) -> Page | None:
    """radix_tree_lookup(&swapper_space.page_tree, entry): the page, without a reference."""
    item = radix_tree_lookup(k.swapper_space.page_tree, entry)
    if item is None:
        return None
    if not isinstance(item, Page):
        raise KernelBug("swapper_space: non-page item in the tree")
    return item


def total_swapcache_pages(k: Kernel) -> int:
    """total_swapcache_pages (swapper_space.nrpages)."""
    return k.swapper_space.nrpages


# ---- adding and removing -------------------------------------------------------------------------


def _add_to_swap_cache(k: Kernel, page: Page, entry: int) -> int:
    """__add_to_swap_cache(): insert ``page`` under ``entry``; set PG_locked, PG_swapcache and
    ``private`` (2.6.5: ``mapping`` = swapper_space and ``index``, as add_to_page_cache
    did; swapcache_fields.py); the cache takes a page reference.

    Returns:
        0, or -EEXIST if the entry already has a page.

    Caller: holds a reference to ``page`` and a swap_map reference to ``entry`` for the cache.
    """
    bug_on(PageSwapCache(page), "__add_to_swap_cache: PageSwapCache")
    bug_on(PagePrivate(page), "__add_to_swap_cache: PagePrivate")
    sp = k.swapper_space
    get_page(page)
    error = radix_tree_insert(sp.page_tree, entry, page)
    if error == 0:
        SetPageLocked(page)
        SetPageSwapCache(page)
        if vl_swapcache_by_mapping(k):
            page.mapping = sp
            page.index = entry
        else:
            page.private = entry
        sp.nrpages += 1
        k.vmstat.nr_swapcache += 1
    else:
        _page_cache_release(k, page)
    return error


def add_to_swap_cache(k: Kernel, page: Page, entry: int) -> int:
    """add_to_swap_cache(): take a swap_map reference for the cache and insert the page.

    Returns:
        0; -ENOENT if the slot was freed meanwhile; -EEXIST if it already has a page.

    Caller: holds a reference to ``page``, which is not in the swap cache.
    """
    sp = k.swapper_space
    if not swap_duplicate(k, entry):
        sp.noent_race += 1
        return -ENOENT
    error = _add_to_swap_cache(k, page, entry)
    if error:
        swap_free(k, entry)
        if error == -EEXIST:
            sp.exist_race += 1
        return error
    sp.add_total += 1
    return 0


def _delete_from_swap_cache(k: Kernel, page: Page) -> None:
    """__delete_from_swap_cache(): remove the page from the tree and clear PG_swapcache.

    The page keeps the cache's reference and the slot keeps the cache's swap_map count: the
    caller drops both.

    Caller: holds the page lock; the page is in the swap cache and not under writeback.
    """
    bug_on(not PageLocked(page), "__delete_from_swap_cache: page not locked")
    bug_on(not PageSwapCache(page), "__delete_from_swap_cache: !PageSwapCache")
    bug_on(PageWriteback(page), "__delete_from_swap_cache: PageWriteback")
    sp = k.swapper_space
    item = radix_tree_delete(sp.page_tree, page_swp_entry(k, page))
    bug_on(item is not page, "__delete_from_swap_cache: tree holds another page")
    if vl_swapcache_by_mapping(k):
        page.mapping = None
        page.index = 0
    else:
        page.private = 0
    ClearPageSwapCache(page)
    sp.nrpages -= 1
    k.vmstat.nr_swapcache -= 1
    sp.del_total += 1


def delete_from_swap_cache(k: Kernel, page: Page) -> None:
    """delete_from_swap_cache(): remove the page and drop the cache's slot and page references.

    Caller: holds the page lock and a reference of its own (the page is never freed here).
    """
    bug_on(PagePrivate(page), "delete_from_swap_cache: PagePrivate")
    entry = page_swp_entry(k, page)
    _delete_from_swap_cache(k, page)
    swap_free(k, entry)
    _page_cache_release(k, page)


def add_to_swap(k: Kernel, page: Page) -> int:
    """add_to_swap(): give an anonymous page a swap slot and put it in the swap cache.

    On success the page is PG_uptodate and PG_dirty (a bare SetPageDirty: no tag, no
    nr_dirty accounting, since its mapping is NULL in 2.6.6).

    Returns:
        1 on success; 0 when swap is full.

    Caller: shrink_list, holding the page lock and a reference.
    """
    bug_on(not PageLocked(page), "add_to_swap: page not locked")
    sp = k.swapper_space
    while True:
        entry = get_swap_page(k)
        if entry == 0:
            return 0
        err = _add_to_swap_cache(k, page, entry)
        if err == 0:
            SetPageUptodate(page)
            SetPageDirty(page)
            sp.add_total += 1
            return 1
        # -EEXIST: raced with a read_swap_cache_async that reused the slot; try another.
        sp.exist_race += 1
        swap_free(k, entry)


def free_swap_cache(k: Kernel, page: Page) -> None:
    """free_swap_cache(): if the page is in the swap cache and can be locked at once, drop it
    from the cache when nobody else uses its slot."""
    if PageSwapCache(page) and not TestSetPageLocked(page):
        remove_exclusive_swap_page(k, page)
        from kernelmodel.mm.pagemap import unlock_page

        unlock_page(k, page)


def free_page_and_swap_cache(k: Kernel, page: Page) -> None:
    """free_page_and_swap_cache(): free_swap_cache, then drop the caller's reference.

    Caller: the unmap path (zap_pte_range's tlb_remove_page), for a page it unmapped.
    """
    free_swap_cache(k, page)
    _page_cache_release(k, page)


# ---- lookups and swap-in -------------------------------------------------------------------------


def lookup_swap_cache(k: Kernel, entry: int) -> Page | None:
    """lookup_swap_cache(): the swap-cache page of ``entry`` with a new reference, or None.

    The page is returned as it is (possibly locked while its read is in flight).
    """
    sp = k.swapper_space
    page = vl_swapper_lookup(k, entry)
    if page is not None:
        get_page(page)
        sp.find_success += 1
    sp.find_total += 1
    return page


def vl_read_swap_cache(k: Kernel, entry: int) -> tuple[int, Page | None]:
    """read_swap_cache_async() up to the point where the kernel returns the page.

    Looks the entry up; if absent, allocates a page (GFP_HIGHUSER, may reclaim but never
    sleeps), adds it to the swap cache (locked), queues it for the active list and submits
    the read.

    Returns:
        (SWAPIN_FOUND, page) with a reference; (SWAPIN_STARTED, page) with the allocation's
        reference, locked until the read completes; (SWAPIN_NOMEM, None);
        (SWAPIN_NOENT, None) when the slot was freed since the caller saw the entry.
    """
    from kernelmodel.mm.alloc import vl_alloc_page
    from kernelmodel.mm.swap import lru_cache_add_active

    new_page: Page | None = None
    while True:
        found = vl_swapper_lookup(k, entry)
        if found is not None:
            get_page(found)
            if new_page is not None:
                _page_cache_release(k, new_page)
            return (SWAPIN_FOUND, found)
        if new_page is None:
            new_page = vl_alloc_page(k, GFP_HIGHUSER)
            if new_page is None:
                return (SWAPIN_NOMEM, None)
        err = add_to_swap_cache(k, new_page, entry)
        if err == 0:
            lru_cache_add_active(k, new_page)
            swap_readpage(k, new_page)
            return (SWAPIN_STARTED, new_page)
        if err == -ENOENT:
            _page_cache_release(k, new_page)
            return (SWAPIN_NOENT, None)
        # -EEXIST: another path added the page meanwhile; the lookup above now finds it.


def read_swap_cache_async(k: Kernel, task: Task, entry: int) -> Page | None:
    """read_swap_cache_async() as an op helper for do_swap_page.

    Returns:
        The entry's page with a reference when it is already in the swap cache (it may still
        be locked by a read in flight: the caller's lock_page waits for it). Otherwise None:
        the read was submitted and the task sleeps on the new page's lock (a major fault;
        the retried fault finds the page with lookup_swap_cache), or no page could be
        allocated and the task sleeps in vl_wait_for_memory. If the task is still running
        after None, the entry was freed meanwhile: the caller re-reads the pte (the kernel's
        pte_same back-out).

    Caller: the fault path of ``task``, after lookup_swap_cache(entry) missed.
    """
    status, page = vl_read_swap_cache(k, entry)
    if status == SWAPIN_FOUND:
        return page
    if status == SWAPIN_STARTED and page is not None:
        sleep_on(k, task, page_locked_key(page.pfn))
        _page_cache_release(k, page)
        return None
    if status == SWAPIN_NOMEM:
        from kernelmodel.mm.alloc import vl_wait_for_memory

        vl_wait_for_memory(k, task)
    return None


def swapin_readahead(k: Kernel, entry: int) -> None:
    """swapin_readahead(): start reads of the in-use slots in the entry's aligned cluster of
    2**page_cluster slots (valid_swaphandles), then drain the LRU pagevecs.

    Pages are read into the swap cache and released; a failed allocation stops early.

    Caller: do_swap_page, before read_swap_cache_async(entry).
    """
    from kernelmodel.mm.swap import lru_add_drain

    num, offset = valid_swaphandles(k, entry)
    type_ = swp_type(entry)
    i = 0
    while i < num:
        _status, page = vl_read_swap_cache(k, swp_entry(type_, offset))
        if page is None:
            break
        _page_cache_release(k, page)
        offset += 1
        i += 1
    lru_add_drain(k)


# ---- I/O (mm/page_io.c) --------------------------------------------------------------------------


def swap_writepage(k: Kernel, page: Page, wbc: WritebackControl) -> int:
    """swap_writepage(): write a swap-cache page to its slot (swapper_space's ->writepage).

    If nobody else uses the slot any more, the page just leaves the swap cache instead
    (remove_exclusive_swap_page) and stays dirty in memory. Otherwise it is marked under
    writeback, unlocked, and one bio is submitted (END_IO_SWAP_WRITE ends the writeback).

    Returns:
        0.

    Caller: shrink_list's pageout, holding the page lock (released here) with PG_dirty just
    cleared by clear_page_dirty_for_io.
    """
    from kernelmodel.fs.bio import END_IO_SWAP_WRITE, WRITE, submit_bio
    from kernelmodel.mm.page_writeback import set_page_writeback
    from kernelmodel.mm.pagemap import unlock_page

    if remove_exclusive_swap_page(k, page):
        unlock_page(k, page)
        return 0
    entry = page_swp_entry(k, page)
    sector = vl_entry_sector(k, entry)
    k.trace.emit(k.now(), TR_SWAP_OUT, k.current, page.pfn, entry, "swap_writepage")
    set_page_writeback(k, page)
    unlock_page(k, page)
    submit_bio(k, WRITE, sector, [page], END_IO_SWAP_WRITE)
    return 0


def swap_readpage(k: Kernel, page: Page) -> int:
    """swap_readpage(): read a swap-cache page from its slot; END_IO_SWAP_READ sets
    PG_uptodate and unlocks the page.

    Returns:
        0.

    Caller: holds the page lock (set by __add_to_swap_cache); the page is in the swap cache.
    """
    from kernelmodel.fs.bio import END_IO_SWAP_READ, READ, submit_bio

    bug_on(not PageLocked(page), "swap_readpage: page not locked")
    ClearPageUptodate(page)
    entry = page_swp_entry(k, page)
    sector = vl_entry_sector(k, entry)
    k.trace.emit(k.now(), TR_SWAP_IN, k.current, page.pfn, entry, "swap_readpage")
    submit_bio(k, READ, sector, [page], END_IO_SWAP_READ)
    return 0
