"""The invariant checker notices each kind of page-cache corruption it is meant to catch."""

from __future__ import annotations

from test_wb_support import make_file, make_kernel

from kernelmodel.check.check import check_pagecache, vl_mapping_summary
from kernelmodel.fs.fs import I_DIRTY_PAGES
from kernelmodel.include.page import SetPageDirty, SetPageLocked, SetPageWriteback
from kernelmodel.lib.radix_tree import radix_tree_tag_set
from kernelmodel.mm.filemap import PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK
from kernelmodel.mm.page_writeback import set_page_dirty, set_page_writeback


def _has(problems: list[str], text: str) -> bool:
    return any(text in p for p in problems)


def test_clean_state_has_no_problems() -> None:
    k = make_kernel()
    _inode, pages = make_file(k, "f", 20)
    set_page_dirty(k, pages[3])
    set_page_writeback(k, pages[4])
    assert check_pagecache(k) == []


def test_flag_without_tag_and_count() -> None:
    k = make_kernel()
    _inode, pages = make_file(k, "f", 4)
    SetPageDirty(pages[2])
    p = check_pagecache(k)
    assert _has(p, "PG_dirty without the DIRTY tag")
    assert _has(p, "nr_dirty 0 != 1")


def test_dirty_tag_on_clean_page() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 4)
    radix_tree_tag_set(inode.i_mapping.page_tree, 1, PAGECACHE_TAG_DIRTY)
    assert _has(check_pagecache(k), "DIRTY tag on a clean unlocked page")
    SetPageLocked(pages[1])  # the clear_page_dirty_for_io window
    assert check_pagecache(k) == []


def test_writeback_tag_and_flag_must_agree() -> None:
    k = make_kernel()
    _inode, pages = make_file(k, "f", 4)
    SetPageWriteback(pages[0])
    p = check_pagecache(k)
    assert _has(p, "WRITEBACK tag != PG_writeback")
    assert _has(p, "nr_writeback 0 != 1")
    k2 = make_kernel()
    inode2, _pages2 = make_file(k2, "f", 4)
    radix_tree_tag_set(inode2.i_mapping.page_tree, 3, PAGECACHE_TAG_WRITEBACK)
    assert _has(check_pagecache(k2), "WRITEBACK tag != PG_writeback")


def test_nrpages_and_nr_pagecache() -> None:
    k = make_kernel()
    inode, _pages = make_file(k, "f", 4)
    inode.i_mapping.nrpages += 1
    p = check_pagecache(k)
    assert _has(p, "nrpages 5 but the tree holds 4")
    assert _has(p, "nr_pagecache 4 != 5")


def test_page_with_a_stale_mapping() -> None:
    k = make_kernel()
    inode, _pages = make_file(k, "f", 2)
    from kernelmodel.mm.alloc import vl_alloc_page
    from kernelmodel.mm.page_alloc import GFP_HIGHUSER

    stray = vl_alloc_page(k, GFP_HIGHUSER)
    assert stray is not None
    stray.mapping = inode.i_mapping
    stray.index = 7
    assert _has(check_pagecache(k), "but not in its tree")


def test_page_index_and_back_pointer() -> None:
    k = make_kernel()
    _inode, pages = make_file(k, "f", 3)
    pages[1].index = 9
    assert _has(check_pagecache(k), "says index 9")


def test_dirty_lists() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 3)
    set_page_dirty(k, pages[0])
    k.sb.s_io.append(inode.i_ino)
    assert _has(check_pagecache(k), "on s_dirty and s_io")
    k.sb.s_io.clear()
    k.sb.s_dirty.clear()
    assert _has(check_pagecache(k), "dirty (0x4) but on neither")
    k.sb.s_dirty.append(999)
    assert _has(check_pagecache(k), "inode 999: on s_dirty but not a live inode")
    assert inode.i_state == I_DIRTY_PAGES


def test_mapping_summary() -> None:
    k = make_kernel()
    inode, pages = make_file(k, "f", 5)
    set_page_dirty(k, pages[0])
    set_page_dirty(k, pages[1])
    set_page_writeback(k, pages[1])
    assert vl_mapping_summary(inode.i_mapping) == (2, 1)


def test_check_invariants_runs_every_checker_on_a_booted_kernel() -> None:
    from kernelmodel.check.check import check_invariants

    k = make_kernel()
    _inode, pages = make_file(k, "f", 8)
    set_page_dirty(k, pages[0])
    assert check_invariants(k) == []
    k.pgdat.zone.free_pages += 1
    assert _has(check_invariants(k), "free pages:")
