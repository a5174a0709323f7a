"""The invariant checker: page-cache tags against page flags, counters against recounts (the
model's; no kernel counterpart, it checks the rules of the release designs the kernel runs).

No kernel counterpart (the kernel's nearest relatives are the BUG_ONs of mm/ and
CONFIG_DEBUG_VM). Tests run ``check_invariants`` after every event of random workloads;
``debug_checks`` runs may call it too. Each problem is one line naming the object and the
broken rule; an empty list means the model is consistent.

Rules checked by ``check_pagecache``:
    * every file mapping's radix tree passes radix_tree_check (I1-I5), and ``nrpages`` equals
      its item count; each item is a page whose ``mapping`` is the tree's address_space and
      whose ``index`` is its slot;
    * DIRTY tag <=> PG_dirty, with two tolerated exceptions where the kernel has a tag and no
      flag: the clear_page_dirty_for_io window (the page is locked, between clearing PG_dirty
      and set_page_writeback), and a page wholly past EOF that ->writepage left alone (its
      tag stays until truncate removes the page);
    * WRITEBACK tag <=> PG_writeback, with no exception;
    * ``nr_dirty`` = pages with PG_dirty and a page_mapping(); ``nr_writeback`` = pages with
      PG_writeback; ``nr_pagecache`` = the sum of nrpages over file mappings (the model keeps
      swap-cache pages in nr_swapcache, swap_state.py);
    * every page whose page_mapping() is a file mapping is in that mapping's tree;
    * in the 2.6.5 list mode (page_lists.py) no tag is set, and instead each page-cache page
      is on exactly one of its mapping's four lists, the one ``page.list_id`` names, and a
      PG_dirty page is not on ``clean_pages``; in tags mode the lists are empty;
    * ``s_dirty`` and ``s_io`` name live inodes, each at most once over both lists, and an
      inode with I_DIRTY bits (not I_LOCK, not I_FREEING) is on one of them.

``check_invariants`` adds the checks other parts provide, when their modules exist:
page_alloc.vl_check_free_accounting, check_mm.check_mm, check_swap.check_swap, and the
fields no other checker sees (check_fields.check_fields: struct page; check_fs.check_fs: the
block bitmap against the inodes' extents).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from kernelmodel.check.check_fields import check_fields
from kernelmodel.check.check_fs import check_fs
from kernelmodel.check.check_mm import check_mm
from kernelmodel.check.check_swap import check_swap
from kernelmodel.fs.fs import I_DIRTY, I_FREEING, I_LOCK, Inode
from kernelmodel.include.bug import KernelBug
from kernelmodel.include.page import Page, PageDirty, PageLocked, PageWriteback
from kernelmodel.lib.radix_tree import (
    radix_tree_check,
    radix_tree_lookup,
    vl_radix_tree_items,
    vl_radix_tree_tag_bits,
)
from kernelmodel.mm.filemap import (
    PAGECACHE_TAG_DIRTY,
    PAGECACHE_TAG_WRITEBACK,
    AddressSpace,
    page_mapping,
)

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

_DIRTY_BIT: Final = 1 << PAGECACHE_TAG_DIRTY
_WRITEBACK_BIT: Final = 1 << PAGECACHE_TAG_WRITEBACK

#: The other parts' checkers, run after check_pagecache: (name in messages, checker).
EXTRA_CHECKERS: Final[tuple[tuple[str, Callable[[Kernel], list[str]]], ...]] = (
    ("check_mm.check_mm", check_mm),
    ("check_swap.check_swap", check_swap),
    ("check_fields.check_fields", check_fields),
    ("check_fs.check_fs", check_fs),
)


def _check_tree(inode: Inode, out: list[str]) -> None:
    """radix_tree_check, nrpages and the item back-pointers of one file's page cache."""
    mapping = inode.i_mapping
    where = f"inode {inode.i_ino} ({inode.vl_path})"
    try:
        radix_tree_check(mapping.page_tree)
    except KernelBug as e:
        out.append(f"{where}: {e}")
        return
    items = vl_radix_tree_items(mapping.page_tree)
    if len(items) != mapping.nrpages:
        out.append(f"{where}: nrpages {mapping.nrpages} but the tree holds {len(items)} pages")
    for index, item in items:
        if not isinstance(item, Page):
            out.append(f"{where}: index {index} holds a non-page")
            continue
        if item.mapping is not mapping:
            out.append(f"{where}: page pfn {item.pfn} at index {index} has another mapping")
        if item.index != index:
            out.append(f"{where}: page pfn {item.pfn} at index {index} says index {item.index}")


def _check_tags(inode: Inode, out: list[str]) -> None:
    """DIRTY tag <=> PG_dirty (with the documented windows), WRITEBACK tag <=> PG_writeback."""
    mapping = inode.i_mapping
    where = f"inode {inode.i_ino} ({inode.vl_path})"
    tags: dict[int, int] = {}
    for index, mask in vl_radix_tree_tag_bits(mapping.page_tree):
        tags[index] = mask
    for index, item in vl_radix_tree_items(mapping.page_tree):
        if not isinstance(item, Page):
            continue
        mask = tags.get(index, 0)
        dirty_tag = (mask & _DIRTY_BIT) != 0
        dirty = PageDirty(item)
        if dirty and not dirty_tag:
            out.append(f"{where}: page {index} (pfn {item.pfn}) PG_dirty without the DIRTY tag")
        elif dirty_tag and not dirty:
            past_eof = (index << 12) >= inode.i_size
            if not PageLocked(item) and not past_eof:
                out.append(
                    f"{where}: page {index} (pfn {item.pfn}) DIRTY tag on a clean unlocked page"
                )
        if ((mask & _WRITEBACK_BIT) != 0) != PageWriteback(item):
            out.append(f"{where}: page {index} (pfn {item.pfn}) WRITEBACK tag != PG_writeback")


def _check_no_tags(inode: Inode, out: list[str]) -> None:
    """2.6.5 list mode: no DIRTY or WRITEBACK tag is ever set."""
    for index, mask in vl_radix_tree_tag_bits(inode.i_mapping.page_tree):
        if mask:
            out.append(f"inode {inode.i_ino} ({inode.vl_path}): page {index} tagged in lists mode")


def _check_counters(k: Kernel, out: list[str]) -> None:
    """nr_dirty, nr_writeback and nr_pagecache against a recount over mem_map and the trees."""
    nr_dirty = 0
    nr_writeback = 0
    for page in k.mem_map.pages:
        flags_dirty = PageDirty(page)
        if flags_dirty or PageWriteback(page) or page.mapping is not None:
            mapping = page_mapping(page)
            if flags_dirty and mapping is not None:
                nr_dirty += 1
            if PageWriteback(page):
                nr_writeback += 1
            if mapping is not None and radix_tree_lookup(mapping.page_tree, page.index) is not page:
                out.append(f"page pfn {page.pfn}: mapping inode {mapping.host} but not in its tree")
    nr_pagecache = 0
    for inode in k.sb.s_inodes.values():
        nr_pagecache += inode.i_mapping.nrpages
    ps = k.vmstat
    if ps.nr_dirty != nr_dirty:
        out.append(f"nr_dirty {ps.nr_dirty} != {nr_dirty} dirty page-cache pages")
    if ps.nr_writeback != nr_writeback:
        out.append(f"nr_writeback {ps.nr_writeback} != {nr_writeback} pages under writeback")
    if ps.nr_pagecache != nr_pagecache:
        out.append(f"nr_pagecache {ps.nr_pagecache} != {nr_pagecache} pages in file mappings")


def _check_dirty_lists(k: Kernel, out: list[str]) -> None:
    """s_dirty / s_io: live inodes, each at most once; every dirty inode on one of them."""
    sb = k.sb
    seen: dict[int, str] = {}
    for name, lst in (("s_dirty", sb.s_dirty), ("s_io", sb.s_io)):
        for ino in lst:
            if ino in seen:
                out.append(f"inode {ino}: on {seen[ino]} and {name}")
            seen[ino] = name
            inode = sb.s_inodes.get(ino)
            if inode is None:
                out.append(f"inode {ino}: on {name} but not a live inode")
            elif inode.i_state & I_FREEING:
                out.append(f"inode {ino}: on {name} while being freed")
    for ino, inode in sb.s_inodes.items():
        state = inode.i_state
        if (state & I_DIRTY) and not (state & (I_LOCK | I_FREEING)) and ino not in seen:
            out.append(f"inode {ino}: dirty ({state:#x}) but on neither s_dirty nor s_io")


def check_pagecache(k: Kernel) -> list[str]:
    """Every page-cache rule of the module docstring; returns the problems found."""
    from kernelmodel.mm.page_lists import vl_check_lists, vl_lists_mode

    out: list[str] = []
    lists_mode = vl_lists_mode(k)
    for inode in k.sb.s_inodes.values():
        _check_tree(inode, out)
        if lists_mode:
            _check_no_tags(inode, out)
        else:
            _check_tags(inode, out)
        vl_check_lists(k, inode.i_mapping, f"inode {inode.i_ino} ({inode.vl_path})", out)
    _check_counters(k, out)
    _check_dirty_lists(k, out)
    return out


def vl_mapping_summary(mapping: AddressSpace) -> tuple[int, int]:
    """(dirty-tagged, writeback-tagged) page counts of one mapping (for reports and the UI)."""
    nd = 0
    nw = 0
    for _index, mask in vl_radix_tree_tag_bits(mapping.page_tree):
        if mask & _DIRTY_BIT:
            nd += 1
        if mask & _WRITEBACK_BIT:
            nw += 1
    return nd, nw


def _run_extra(
    k: Kernel, name: str, checker: Callable[[Kernel], list[str]], out: list[str]
) -> None:
    """Run one part's checker; a KernelBug it raises is one more problem."""
    try:
        out.extend(checker(k))
    except KernelBug as e:
        out.append(f"{name}: {e}")


def check_invariants(k: Kernel) -> list[str]:
    """check_pagecache plus the free-page accounting and the other parts' checkers."""
    from kernelmodel.mm.page_alloc import vl_check_free_accounting

    out = check_pagecache(k)
    try:
        vl_check_free_accounting(k.pgdat.zone, k.mem_map)
    except KernelBug as e:
        out.append(f"free pages: {e}")
    for name, checker in EXTRA_CHECKERS:
        _run_extra(k, name, checker, out)
    return out
