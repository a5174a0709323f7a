"""The 2.6.5 per-mapping page lists (include/linux/fs.h, mm/filemap.c, mm/page-writeback.c, 2.6.5).

Selected by ``k.cfg.writeback == "lists"`` (the "2.6.5" profile); the 2.6.6 tag design stays
the default. Every page-cache page hangs on exactly one of four lists of its mapping through
``page->list``: ``clean_pages``, ``dirty_pages``, ``io_pages`` ("being
prepared for I/O") and ``locked_pages`` (I/O submitted, or about to be). The model keeps each
list as a Python list of pfns, head first (index 0 is the head, the last element the tail),
and ``page.list_id`` names the list holding the page (``PL_*``; 0 = none).

Transitions (the callers are the same entry points as in tags mode):
    * add_to_page_cache: to the head of ``clean_pages``;
    * __set_page_dirty_nobuffers on a 0->1 transition: from wherever it is to the head of
      ``dirty_pages``; ``page.dirtied_when`` records when (model-only ordering key);
    * __sync_single_inode / __filemap_fdatawrite: ``dirty_pages`` spliced onto the head of
      ``io_pages`` (for kupdate only when ``io_pages`` is empty);
    * mpage_writepages (mpage_lists.py) and filemap_fdatawait (filemap_wb.py) move pages
      between the lists as §2.7 says;
    * __remove_from_page_cache: off its list.
``test_clear_page_dirty`` and the writeback bit never move a page in 2.6.5, and no DIRTY or
WRITEBACK radix-tree tag is set or read in this mode (the tree is still the lookup index).

Model simplifications: mapping->page_lock is not modelled (each model step is atomic); list
removal searches the list (O(n)), which the model's file sizes make cheap.

Invariants (check.py, ``vl_check_lists``):
    * in lists mode each page-cache page is on exactly one list of its own mapping and
      ``page.list_id`` names it; a PG_dirty page is never on ``clean_pages``;
    * in tags mode every list is empty and every ``list_id`` is 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import KernelBug, bug_on

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.mm.filemap import AddressSpace

#: page.list_id values: which list of its mapping holds the page (0: none).
PL_NONE: Final = 0
PL_CLEAN: Final = 1
PL_DIRTY: Final = 2
PL_IO: Final = 3
PL_LOCKED: Final = 4
PL_NAMES: Final = ("none", "clean_pages", "dirty_pages", "io_pages", "locked_pages")


def vl_lists_mode(k: Kernel) -> bool:
    """True when the kernel runs 2.6.5's list-based writeback tracking."""
    return k.cfg.writeback == "lists"


def vl_mapping_list(mapping: AddressSpace, list_id: int) -> list[int]:
    """The pfn list ``list_id`` of ``mapping`` (PL_CLEAN .. PL_LOCKED)."""
    if list_id == PL_CLEAN:
        return mapping.clean_pages
    if list_id == PL_DIRTY:
        return mapping.dirty_pages
    if list_id == PL_IO:
        return mapping.io_pages
    if list_id != PL_LOCKED:
        raise KernelBug(f"vl_mapping_list: bad list id {list_id}")
    return mapping.locked_pages


def list_del(mapping: AddressSpace, page: Page) -> None:
    """list_del(&page->list): take the page off whichever list of ``mapping`` holds it.

    Caller: holds mapping->page_lock; a page on no list is left alone.
    """
    if page.list_id == PL_NONE:
        return
    lst = vl_mapping_list(mapping, page.list_id)
    bug_on(page.pfn not in lst, "list_del: page not on the list its list_id names")
    lst.remove(page.pfn)
    page.list_id = PL_NONE


def list_add(mapping: AddressSpace, page: Page, list_id: int) -> None:
    """list_add(&page->list, &mapping->X_pages): to the head of list ``list_id``.

    Caller: holds mapping->page_lock; the page is on no list.
    """
    bug_on(page.list_id != PL_NONE, "list_add: page already on a list")
    vl_mapping_list(mapping, list_id).insert(0, page.pfn)
    page.list_id = list_id


def list_move(mapping: AddressSpace, page: Page, list_id: int) -> None:
    """list_del then list_add: move the page to the head of list ``list_id``."""
    list_del(mapping, page)
    list_add(mapping, page, list_id)


def vl_list_tail(mapping: AddressSpace, list_id: int) -> int:
    """The pfn at the tail (``list.prev``) of list ``list_id``, or -1 when it is empty."""
    lst = vl_mapping_list(mapping, list_id)
    return lst[len(lst) - 1] if lst else -1


def vl_list_head(mapping: AddressSpace, list_id: int) -> int:
    """The pfn at the head (``list.next``) of list ``list_id``, or -1 when it is empty."""
    lst = vl_mapping_list(mapping, list_id)
    return lst[0] if lst else -1


def splice_dirty_to_io(k: Kernel, mapping: AddressSpace) -> None:
    """list_splice_init(&mapping->dirty_pages, &mapping->io_pages).

    The dirty pages go to the head of io_pages, so the tail stays the oldest-dirtied page.

    Caller: holds mapping->page_lock.
    """
    if not mapping.dirty_pages:
        return
    pages = k.mem_map.pages
    for pfn in mapping.dirty_pages:
        pages[pfn].list_id = PL_IO
    mapping.io_pages[0:0] = mapping.dirty_pages
    mapping.dirty_pages = []


# ---- the hooks the page-cache entry points call in lists mode -----------------------------------


def vl_lists_page_added(k: Kernel, mapping: AddressSpace, page: Page) -> None:
    """___add_to_page_cache's list_add(&page->list, &mapping->clean_pages)."""
    if vl_lists_mode(k):
        list_add(mapping, page, PL_CLEAN)


def vl_lists_page_removed(k: Kernel, mapping: AddressSpace, page: Page) -> None:
    """__remove_from_page_cache's list_del(&page->list)."""
    if page.list_id != PL_NONE:
        list_del(mapping, page)


def vl_lists_page_dirtied(k: Kernel, mapping: AddressSpace, page: Page) -> None:
    """__set_page_dirty_nobuffers (2.6.5) on a 0->1 transition: to the head of dirty_pages.

    Caller: the page is still in ``mapping`` (the truncate check passed).
    """
    list_move(mapping, page, PL_DIRTY)
    page.dirtied_when = k.now()


def vl_splice_for_writeback(k: Kernel, mapping: AddressSpace, sync_all: bool,
                            for_kupdate: bool) -> None:
    """The splice __sync_single_inode / __filemap_fdatawrite do before do_writepages (2.6.5).

    ``if (wait || !wbc->for_kupdate || list_empty(&mapping->io_pages))`` splice; the
    data-integrity and non-kupdate callers (fdatawrite among them) always splice.
    """
    if sync_all or not for_kupdate or not mapping.io_pages:
        splice_dirty_to_io(k, mapping)


def vl_mapping_has_io_pages(mapping: AddressSpace) -> bool:
    """2.6.5's ``!list_empty(&mapping->io_pages)``: writeback left pages to write.

    The 2.6.5 counterpart of 2.6.6's ``mapping_tagged(mapping, PAGECACHE_TAG_DIRTY)`` in
    __sync_single_inode's redirty test.
    """
    return len(mapping.io_pages) > 0


# ---- the checker -------------------------------------------------------------------------------


def vl_check_lists(k: Kernel, mapping: AddressSpace, where: str, out: list[str]) -> None:
    """The list invariants of the module docstring for one mapping; problems go to ``out``."""
    from kernelmodel.include.page import Page, PageDirty
    from kernelmodel.lib.radix_tree import vl_radix_tree_items
    from kernelmodel.mm.filemap import vl_find_page_nolock

    lists_mode = vl_lists_mode(k)
    pages = k.mem_map.pages
    seen: dict[int, int] = {}
    for list_id in (PL_CLEAN, PL_DIRTY, PL_IO, PL_LOCKED):
        lst = vl_mapping_list(mapping, list_id)
        if lst and not lists_mode:
            out.append(f"{where}: {PL_NAMES[list_id]} not empty in tags mode")
            continue
        for pfn in lst:
            name = PL_NAMES[list_id]
            if pfn < 0 or pfn >= len(pages):
                out.append(f"{where}: {name} holds pfn {pfn} outside mem_map")
                continue
            if pfn in seen:
                out.append(f"{where}: pfn {pfn} on {PL_NAMES[seen[pfn]]} and {name}")
            seen[pfn] = list_id
            page = pages[pfn]
            if page.list_id != list_id:
                out.append(f"{where}: pfn {pfn} on {name} but list_id {page.list_id}")
            if vl_find_page_nolock(mapping, page.index) is not page:
                out.append(f"{where}: pfn {pfn} on {name} but not in the page cache")
            if list_id == PL_CLEAN and PageDirty(page):
                out.append(f"{where}: pfn {pfn} PG_dirty on clean_pages")
    if not lists_mode:
        return
    for index, item in vl_radix_tree_items(mapping.page_tree):
        pfn = item.pfn if isinstance(item, Page) else -1
        if pfn not in seen:
            out.append(f"{where}: page {index} (pfn {pfn}) on no list")
