"""Which ``struct page`` fields hold a swap-cache page's entry, per release (no single kernel
counterpart: the difference is Hugh Dickins' "rmap 2 anon and swapcache", 2.6.6-rc1).

* 2.6.6 and later: PG_swapcache, ``page->private`` = the swp_entry_t value; ``mapping`` and
  ``index`` stay free (for the anon_vma and linear index, or the anonmm and address).
* 2.6.5: the swap cache is an ordinary page cache of ``swapper_space``: ``page->mapping`` =
  &swapper_space, ``page->index`` = the entry value, and ``PageSwapCache(page)`` is the test
  ``page->mapping == &swapper_space`` (no flag).

The model runs the 2.6.5 form when the profile is 2.6.5 and anonymous pages are reverse-mapped
by pte chains (which need nothing in ``mapping``); with an object rmap the page's ``mapping``
belongs to that rmap, so the 2.6.6 form is used whatever the release. The model keeps its
PG_swapcache bit in both forms as its fast ``PageSwapCache`` test (the release view of the
flags hides it for 2.6.5, as it hides PG_anon). Not modelled: 2.6.5 also moved swap-cache
pages between swapper_space's clean/dirty/io/locked lists; nothing walked those lists (the
swap cache has no inode on the dirty-inode lists, and it is memory_backed, so it was never
counted in nr_dirty), so only that list membership is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel


def vl_swapcache_by_mapping_for(release: str, rmap: str) -> bool:
    """True when a kernel of this release and reverse map keeps swap-cache pages in 2.6.5's
    ``mapping``/``index`` form (the one place the rule is written)."""
    return release == "2.6.5" and rmap == "pte_chain"


def vl_swapcache_by_mapping(k: Kernel) -> bool:
    """True when swap-cache pages use 2.6.5's ``mapping``/``index`` form."""
    return vl_swapcache_by_mapping_for(k.cfg.release, k.cfg.rmap)


def page_swp_entry(k: Kernel, page: Page) -> int:
    """The swp_entry_t value of a swap-cache page (2.6.5: ``page->index``; 2.6.6:
    ``page->private``).

    Caller: the page is in the swap cache.
    """
    if vl_swapcache_by_mapping(k):
        return page.index
    return page.private
