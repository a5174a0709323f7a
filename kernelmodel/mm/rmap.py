"""Physical to virtual reverse mappings (include/linux/rmap.h, mm/rmap.c, 2.6.7).

The object-based reverse mapping modelled here is the design the 2.6.6 development cycle
produced and mainline shipped in 2.6.7 (Hugh Dickins' rmap 7-40, with Andrea Arcangeli's
anon_vma in rmap 39/40); mainline 2.6.6 itself still used per-page pte chains. No per-pte
record exists: a page says which object maps it, and the walks find the ptes from there.

* An anonymous page has PG_anon, ``page.mapping`` = its ``AnonVma`` and ``page.index`` = its
  linear index ``(address - vm_start) / PAGE_SIZE + vm_pgoff``. The anon_vma lists every vma
  that may map it (the faulting vma, its fork copies); ``vma_address`` turns the index back
  into an address in each, giving -EFAULT when the vma does not cover it.
* A file page has ``page.mapping`` = the file's AddressSpace; its vmas are on the mapping's
  ``i_mmap`` (private) and ``i_mmap_shared`` lists (the list form of rmap 7, before prio_tree).
* ``page._mapcount`` counts the ptes mapping the page; nr_mapped counts pages with
  ``_mapcount > 0``.

One interface serves every rmap profile: callers use the functions below and pass the pte
address (``ptep``) where a per-pte design would need it; ``k.cfg.rmap`` selects the design
inside this module:

* "anon_vma" (2.6.7): as above;
* "pte_chain" (2.6.5 and mainline 2.6.6; rmap_pte_chain keeps the chains): every mapped page
  has its chain; an anonymous page has PG_anon (rmap 2) and ``mapping`` NULL, as 2.6.6's
  page_add_rmap leaves it, and no anon_vma exists; rmap_bytes counts only the chain blocks;
* "anonmm" (Hugh Dickins' rmap 10, 2.6.7-rc1 only; rmap_anonmm): an anonymous page's
  ``mapping`` is the anonmm of the mm it was first mapped in and ``index`` its address; no
  anon_vma exists; rmap_bytes counts the anonmms. File pages use the i_mmap walk, as in
  anon_vma mode.

The 2.6.5 profile shows PG_anon too, although the bit arrived with rmap 2 in 2.6.6-rc1 (2.6.5
told an anonymous page by its NULL ``mapping``); the two tests agree on every page the model
maps, so only the flag's display differs.

Locking: page_map_lock, anon_vma->lock, i_mmap_lock and page_table_lock are not modelled (one
CPU, and no model step sleeps while holding them), so the kernel's trylock failures
(SWAP_AGAIN, "failed" counts) never happen here.

Invariants (checked by check_mm):
    * ``_mapcount`` equals the number of present ptes that map the page;
    * the walk from a mapped page finds exactly those ptes;
    * PG_anon is set exactly on mapped anonymous pages, with ``mapping`` their AnonVma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import KernelBug, bug_on
from kernelmodel.include.mm_types import (
    SIZEOF_ANON_VMA,
    VM_LOCKED,
    VM_MAYSHARE,
    VM_RESERVED,
    VMA_RMAP_BYTES,
    AnonMm,
    AnonVma,
    MmStruct,
    VmArea,
)
from kernelmodel.include.page import (
    M_anon,
    PageAnon,
    PageLocked,
    PageReserved,
    PageSwapCache,
    TestClearPageReferenced,
    page_count,
)
from kernelmodel.include.vmstat import TR_UNMAP
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.page_writeback import vl_set_page_dirty_from_pte
from kernelmodel.mm.pgtable import (
    pte_dirty,
    pte_offset_map,
    pte_pfn,
    pte_present,
    ptep_clear_flush,
    ptep_test_and_clear_young,
    set_pte,
    swp_entry_to_pte,
)
from kernelmodel.mm.rmap_anonmm import (
    am_bytes,
    am_clear_page_anon,
    am_find_ptes,
    am_page_add_anon_rmap,
    am_page_referenced_anon,
    am_problems,
    am_try_to_unmap_anon,
)
from kernelmodel.mm.rmap_pte_chain import (
    pc_add_rmap,
    pc_chain_bytes,
    pc_check_page,
    pc_find_ptes,
    pc_page_referenced,
    pc_remove_rmap,
    pc_try_to_unmap,
)
from kernelmodel.mm.swapcache_fields import page_swp_entry
from kernelmodel.mm.swapfile import swap_duplicate
from machine.i386 import PAGE_SHIFT

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

SWAP_SUCCESS: Final = 0
SWAP_AGAIN: Final = 1
SWAP_FAIL: Final = 2

EFAULT: Final = 14
ENOMEM: Final = 12

_RMAP_ANON_VMA: Final = "anon_vma"
_RMAP_PTE_CHAIN: Final = "pte_chain"
_RMAP_ANONMM: Final = "anonmm"


def vl_rmap_check_mode(k: Kernel) -> None:
    """Refuse an rmap design this model does not know (never a silent substitute)."""
    mode = k.cfg.rmap
    if mode != _RMAP_ANON_VMA and mode != _RMAP_PTE_CHAIN and mode != _RMAP_ANONMM:
        raise KernelBug(f"rmap: unknown design {mode!r} (anon_vma, pte_chain or anonmm)")


def _object_bytes(k: Kernel) -> bool:
    """True when anon_vmas and the vma rmap fields exist and count as rmap_bytes (anon_vma
    mode only: 2.6.6's vmas and rmap 10's had no such fields)."""
    return k.cfg.rmap == _RMAP_ANON_VMA


# ---- anon_vma lifetime (mm/rmap.c) --------------------------------------------------------------


def anon_vma_alloc(k: Kernel) -> AnonVma:
    """anon_vma_alloc(): a new, empty anon_vma from the anon_vma slab (8 bytes on UP i386)."""
    reg = k.mm_registry
    av = AnonVma(reg.next_anon_vma_id)
    reg.next_anon_vma_id += 1
    reg.anon_vmas[av.anon_vma_id] = av
    if _object_bytes(k):
        k.vmstat.add_rmap_bytes(SIZEOF_ANON_VMA)
    return av


def anon_vma_free(k: Kernel, av: AnonVma) -> None:
    """anon_vma_free(): return an anon_vma whose list is empty to the slab."""
    bug_on(len(av.head) != 0, "anon_vma_free: vma list not empty")
    del k.mm_registry.anon_vmas[av.anon_vma_id]
    if _object_bytes(k):
        k.vmstat.add_rmap_bytes(-SIZEOF_ANON_VMA)


def anon_vma_prepare(k: Kernel, vma: VmArea) -> int:
    """anon_vma_prepare(): give ``vma`` an anon_vma before its first anonymous page.

    A neighbour's anon_vma is reused when the two vmas could be mprotect-merged
    (find_mergeable_anon_vma, rmap 40); otherwise a new one is allocated. The vma joins the
    front of the list.

    Returns:
        0 (the model's slab never fails; the kernel returns -ENOMEM there). In the pte_chain
        and anonmm designs there is no anon_vma and this does nothing.

    Caller: the fault path (do_anonymous_page write, do_wp_page copy, do_no_page private
    write) with mmap_sem held.
    """
    if vma.anon_vma >= 0 or k.cfg.rmap != _RMAP_ANON_VMA:
        return 0
    from kernelmodel.mm.mmap import find_mergeable_anon_vma

    av_id = find_mergeable_anon_vma(k, vma)
    av = k.mm_registry.anon_vmas.get(av_id) if av_id >= 0 else None
    if av is None:
        av = anon_vma_alloc(k)
    vma.anon_vma = av.anon_vma_id
    av.head.insert(0, vma.vma_id)
    return 0


def anon_vma_link(k: Kernel, vma: VmArea) -> None:
    """anon_vma_link() / __anon_vma_link(): add ``vma`` at the front of its anon_vma's list.

    Caller: dup_mmap for a fork copy, or vma_link for a new or split vma.
    """
    if vma.anon_vma < 0:
        return
    av = k.mm_registry.anon_vma(vma.anon_vma)
    bug_on(vma.vma_id in av.head, "anon_vma_link: vma already linked")
    av.head.insert(0, vma.vma_id)


def anon_vma_unlink(k: Kernel, vma: VmArea) -> None:
    """anon_vma_unlink(): take ``vma`` off its anon_vma list; free the anon_vma if empty.

    Caller: remove_vm_struct (munmap, exit), with the vma's ptes already zapped, so no page
    can still point at a freed anon_vma.
    """
    if vma.anon_vma < 0:
        return
    av = k.mm_registry.anon_vma(vma.anon_vma)
    bug_on(vma.vma_id not in av.head, "anon_vma_unlink: vma not on its anon_vma list")
    av.head.remove(vma.vma_id)
    if not av.head:
        anon_vma_free(k, av)


def vl_rmap_vma_alloc(k: Kernel) -> None:
    """Account what object rmap adds to every vm_area_struct (64 -> 84 bytes in 2.6.7)."""
    if _object_bytes(k):
        k.vmstat.add_rmap_bytes(VMA_RMAP_BYTES)


def vl_rmap_vma_free(k: Kernel) -> None:
    """Undo ``vl_rmap_vma_alloc`` when a vma is freed."""
    if _object_bytes(k):
        k.vmstat.add_rmap_bytes(-VMA_RMAP_BYTES)


# ---- adding and removing mappings -------------------------------------------------------------


def vma_address(page: Page, vma: VmArea) -> int:
    """vma_address(): where ``page`` would be mapped in ``vma``, or -EFAULT if outside it.

    -EFAULT is legitimate for anonymous pages: the anon_vma list holds related vmas that
    need not cover the page (and, in the model's list-based i_mmap, file vmas that map
    other parts of the file).
    """
    address = vma.vm_start + ((page.index - vma.vm_pgoff) << PAGE_SHIFT)
    if address < vma.vm_start or address >= vma.vm_end:
        return -EFAULT
    return address


def page_add_anon_rmap(k: Kernel, page: Page, vma: VmArea, address: int, ptep: int = -1) -> None:
    """page_add_anon_rmap(): account one more pte mapping the anonymous ``page`` in ``vma``.

    The first mapping sets PG_anon, ``index`` (linear) and ``mapping`` (the anon_vma) and
    counts nr_mapped; later ones must agree with them. pte_chain (2.6.6's page_add_rmap on an
    unmapped page with no mapping): PG_anon only, ``mapping`` stays NULL; anonmm: see
    rmap_anonmm.am_page_add_anon_rmap.

    Caller: holds page_table_lock; in anon_vma mode ``vma`` has an anon_vma
    (anon_vma_prepare); ``ptep`` is the pte just set (used by the per-pte design).
    """
    bug_on(PageReserved(page), "page_add_anon_rmap: PageReserved")
    mode = k.cfg.rmap
    if mode != _RMAP_ANON_VMA:
        if mode == _RMAP_ANONMM:
            am_page_add_anon_rmap(k, page, vma.vm_mm, address)
        elif page._mapcount == 0:
            bug_on(PageAnon(page), "page_add_rmap: PageAnon on an unmapped page")
            bug_on(page.mapping is not None and not PageSwapCache(page),
                   "page_add_rmap: anonymous page has a mapping")
            page.flags |= M_anon
            k.vmstat.nr_mapped += 1
            k.vmstat.nr_anon += 1
        page._mapcount += 1
        k.vmstat.rmap_add += 1
        if mode == _RMAP_PTE_CHAIN:
            pc_add_rmap(k, page, ptep)
        return
    bug_on(vma.anon_vma < 0, "page_add_anon_rmap: vma has no anon_vma")
    av = k.mm_registry.anon_vmas[vma.anon_vma]
    index = ((address - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff
    if page._mapcount == 0:
        bug_on(PageAnon(page), "page_add_anon_rmap: PageAnon on an unmapped page")
        bug_on(page.mapping is not None, "page_add_anon_rmap: page->mapping set")
        page.flags |= M_anon
        page.index = index
        page.mapping = av
        k.vmstat.nr_mapped += 1
        k.vmstat.nr_anon += 1
    else:
        bug_on(not PageAnon(page), "page_add_anon_rmap: mapped page is not anon")
        bug_on(page.index != index, "page_add_anon_rmap: index differs")
        bug_on(page.mapping is not av, "page_add_anon_rmap: anon_vma differs")
    page._mapcount += 1
    k.vmstat.rmap_add += 1


def page_add_file_rmap(k: Kernel, page: Page, ptep: int = -1) -> None:
    """page_add_file_rmap(): account one more pte mapping the page-cache ``page``.

    Caller: holds page_table_lock; ``ptep`` is unused by object rmap.
    """
    bug_on(PageAnon(page), "page_add_file_rmap: PageAnon")
    if PageReserved(page):
        return
    if page._mapcount == 0:
        k.vmstat.nr_mapped += 1
    page._mapcount += 1
    k.vmstat.rmap_add += 1
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        pc_add_rmap(k, page, ptep)


def page_dup_rmap(k: Kernel, page: Page, ptep: int = -1) -> None:
    """page_dup_rmap(): fork copied a pte of an already mapped page (``mapcount++``).

    Caller: copy_page_range, with both page_table_locks held.
    """
    bug_on(page._mapcount == 0, "page_dup_rmap: page not mapped")
    page._mapcount += 1
    k.vmstat.rmap_add += 1
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        pc_add_rmap(k, page, ptep)


def clear_page_anon(k: Kernel, page: Page) -> None:
    """clear_page_anon(): the last pte is gone; forget the anon_vma (anonmm) and PG_anon."""
    mode = k.cfg.rmap
    if mode == _RMAP_ANONMM:
        am_clear_page_anon(k, page)
        return
    if mode == _RMAP_PTE_CHAIN:
        # 2.6.6 leaves mapping NULL; a 2.6.5 swap-cache page keeps &swapper_space in it
        bug_on(page.mapping is not None and not PageSwapCache(page), "clear_page_anon: mapping")
    else:
        bug_on(page.mapping is None, "clear_page_anon: no mapping")
        page.mapping = None
    page.flags &= ~M_anon
    k.vmstat.nr_anon -= 1


def _last_unmap(k: Kernel, page: Page) -> None:
    """What page_remove_rmap and try_to_unmap do when the mapcount reaches 0 (i386 has no
    storage-key dirty bit to transfer)."""
    if PageAnon(page):
        clear_page_anon(k, page)
    k.vmstat.nr_mapped -= 1


def page_remove_rmap(k: Kernel, page: Page, ptep: int = -1) -> None:
    """page_remove_rmap(): one pte mapping ``page`` was cleared.

    Caller: holds page_table_lock; the pte's dirty bit was already moved to the page.
    """
    bug_on(PageReserved(page), "page_remove_rmap: PageReserved")
    bug_on(page._mapcount == 0, "page_remove_rmap: page not mapped")
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        pc_remove_rmap(k, page, ptep)
    page._mapcount -= 1
    k.vmstat.rmap_remove += 1
    if page._mapcount == 0:
        _last_unmap(k, page)


# ---- page_referenced ----------------------------------------------------------------------------


def page_referenced_one(k: Kernel, page: Page, vma: VmArea, mapcount: list[int]) -> int:
    """page_referenced_one(): test and clear the young bit of the pte mapping ``page`` in
    ``vma``, if any. Does not flush the TLB (ptep_test_and_clear_young).

    ``mapcount[0]`` is the walk's countdown of ptes still to find.
    """
    k.vmstat.page_referenced_steps += 1
    k.vmstat.rmap_walk_steps += 1
    mm = k.mm_registry.mms[vma.vm_mm]
    if mm.rss == 0:
        return 0
    address = vma_address(page, vma)
    if address < 0:
        return 0
    mem = k.machine.mem
    ptep = pte_offset_map(mem, mm.pgd, address)
    if ptep < 0:
        return 0
    pte = mem.read_u32(ptep)
    if not pte_present(pte) or pte_pfn(pte) != page.pfn:
        return 0
    referenced = 1 if ptep_test_and_clear_young(mem, ptep) else 0
    mapcount[0] -= 1
    return referenced


def page_referenced_anon(k: Kernel, page: Page) -> int:
    """page_referenced_anon(): walk the anon_vma list until every pte was found."""
    av = page.mapping
    assert isinstance(av, AnonVma)
    bug_on(len(av.head) == 0, "page_referenced_anon: empty anon_vma")
    mapcount = [page._mapcount]
    referenced = 0
    vmas = k.mm_registry.vmas
    for vid in av.head:
        referenced += page_referenced_one(k, page, vmas[vid], mapcount)
        if mapcount[0] == 0:
            break
    return referenced


def page_referenced_file(k: Kernel, page: Page) -> int:
    """page_referenced_file(): walk the vmas of the page's file that cover its offset.

    A vma that is VM_LOCKED and VM_MAYSHARE counts as a reference at once.
    """
    mapping = page.mapping
    mapcount = [page._mapcount]
    referenced = 0
    vmas = k.mm_registry.vmas
    for vid in vl_i_mmap_vmas(mapping):
        vma = vmas[vid]
        if vma_address(page, vma) < 0:
            continue
        if (vma.vm_flags & (VM_LOCKED | VM_MAYSHARE)) == (VM_LOCKED | VM_MAYSHARE):
            return referenced + 1
        referenced += page_referenced_one(k, page, vma, mapcount)
        if mapcount[0] == 0:
            break
    return referenced


def page_referenced(k: Kernel, page: Page) -> int:
    """page_referenced(): how many references ``page`` had since the last check.

    Counts PG_referenced (cleared) and every young pte (cleared, without a TLB flush).

    Caller: vmscan, holding the page lock where the kernel does.
    """
    vl_rmap_check_mode(k)
    referenced = 1 if TestClearPageReferenced(page) else 0
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        if page._mapcount != 0:
            referenced += pc_page_referenced(k, page)
        return referenced
    if page._mapcount != 0 and page.mapping is not None:
        if PageAnon(page):
            if k.cfg.rmap == _RMAP_ANONMM:
                referenced += am_page_referenced_anon(k, page)
            else:
                referenced += page_referenced_anon(k, page)
        else:
            referenced += page_referenced_file(k, page)
    return referenced


# ---- try_to_unmap -------------------------------------------------------------------------------


def try_to_unmap_one(k: Kernel, page: Page, vma: VmArea) -> int:
    """try_to_unmap_one(): clear the pte mapping ``page`` in ``vma`` (2.6.7 rules).

    SWAP_FAIL (reactivate) when the vma is locked or reserved, when the pte was young, or
    when a swap-cache page has references beyond its maps (get_user_pages protection);
    otherwise the pte is cleared with a flush, its dirty bit moved to the page, an anonymous
    page's pte replaced by its swap entry (swap_duplicate), and rss, mapcount and the page
    reference dropped.

    Returns:
        SWAP_AGAIN (nothing wrong; keep walking) or SWAP_FAIL.
    """
    k.vmstat.try_to_unmap_steps += 1
    k.vmstat.rmap_walk_steps += 1
    mm = k.mm_registry.mms[vma.vm_mm]
    if mm.rss == 0:
        return SWAP_AGAIN
    address = vma_address(page, vma)
    if address < 0:
        return SWAP_AGAIN
    mem = k.machine.mem
    ptep = pte_offset_map(mem, mm.pgd, address)
    if ptep < 0:
        return SWAP_AGAIN
    pte = mem.read_u32(ptep)
    if not pte_present(pte) or pte_pfn(pte) != page.pfn:
        return SWAP_AGAIN
    if (vma.vm_flags & (VM_LOCKED | VM_RESERVED)) != 0 or ptep_test_and_clear_young(mem, ptep):
        return SWAP_FAIL
    if PageSwapCache(page) and page_count(page) != page._mapcount + 2:
        return SWAP_FAIL
    vl_unmap_one(k, page, mm, address, ptep)
    return SWAP_AGAIN


def vl_unmap_one(k: Kernel, page: Page, mm: MmStruct, address: int, ptep: int) -> None:
    """The end of try_to_unmap_one in every design: clear and flush the pte, move its dirty
    bit to the page, write an anonymous page's swap entry in its place, and drop rss, the
    mapcount and the page reference the pte held. An ``unmap`` trace record names it."""
    pteval = ptep_clear_flush(k, mm.mm_id, address, ptep)
    k.trace.emit(k.now(), TR_UNMAP, k.current, address, page.pfn,
                 f"try_to_unmap mm {mm.mm_id}")
    if pte_dirty(pteval):
        vl_set_page_dirty_from_pte(k, page)
    if PageAnon(page):
        entry = page_swp_entry(k, page)
        bug_on(not PageSwapCache(page), "try_to_unmap_one: anon page not in swap cache")
        swap_duplicate(k, entry)
        set_pte(k.machine.mem, ptep, swp_entry_to_pte(entry))
    mm.rss -= 1
    page._mapcount -= 1
    k.vmstat.rmap_remove += 1
    page_cache_release(k, page)


def try_to_unmap_anon(k: Kernel, page: Page) -> int:
    """try_to_unmap_anon(): try every vma on the anon_vma list, stopping on SWAP_FAIL or
    once the mapcount reaches 0."""
    av = page.mapping
    assert isinstance(av, AnonVma)
    bug_on(len(av.head) == 0, "try_to_unmap_anon: empty anon_vma")
    ret = SWAP_AGAIN
    vmas = k.mm_registry.vmas
    for vid in list(av.head):
        ret = try_to_unmap_one(k, page, vmas[vid])
        if ret == SWAP_FAIL or page._mapcount == 0:
            break
    return ret


def try_to_unmap_file(k: Kernel, page: Page) -> int:
    """try_to_unmap_file(): try the file's vmas that cover the page's offset.

    Nonlinear vmas (remap_file_pages) are not modelled, so the cluster scan of rmap 8 never
    runs.
    """
    ret = SWAP_AGAIN
    vmas = k.mm_registry.vmas
    for vid in vl_i_mmap_vmas(page.mapping):
        vma = vmas[vid]
        if vma_address(page, vma) < 0:
            continue
        ret = try_to_unmap_one(k, page, vma)
        if ret == SWAP_FAIL or page._mapcount == 0:
            break
    return ret


def try_to_unmap(k: Kernel, page: Page) -> int:
    """try_to_unmap(): unmap ``page`` from every pte that maps it.

    Returns:
        SWAP_SUCCESS when no pte maps it any more, SWAP_AGAIN to retry later, SWAP_FAIL to
        reactivate the page.

    Caller: vmscan's shrink_list, holding the page lock and a reference; the page is mapped
    (anonymous pages are already in the swap cache).
    """
    vl_rmap_check_mode(k)
    bug_on(PageReserved(page), "try_to_unmap: PageReserved")
    bug_on(not PageLocked(page), "try_to_unmap: page not locked")
    bug_on(page._mapcount == 0, "try_to_unmap: page not mapped")
    k.vmstat.try_to_unmap_calls += 1
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        ret = pc_try_to_unmap(k, page)
    elif PageAnon(page):
        if k.cfg.rmap == _RMAP_ANONMM:
            ret = am_try_to_unmap_anon(k, page)
        else:
            ret = try_to_unmap_anon(k, page)
    else:
        ret = try_to_unmap_file(k, page)
    if page._mapcount == 0:
        _last_unmap(k, page)
        ret = SWAP_SUCCESS
    return ret


# ---- helpers for walks and checks ---------------------------------------------------------------


def vl_i_mmap_vmas(mapping: object | None) -> list[int]:
    """The vma ids on a file mapping's i_mmap then i_mmap_shared lists."""
    if not isinstance(mapping, AddressSpace):
        return []
    return mapping.i_mmap + mapping.i_mmap_shared


def vl_rmap_find_ptes(k: Kernel, page: Page) -> list[tuple[int, int]]:
    """Every (mm id, address) whose present pte maps ``page``, found by the rmap walk alone.

    The same walk page_referenced and try_to_unmap do, with no side effect and no early
    stop: check_mm compares it with the page tables.
    """
    vl_rmap_check_mode(k)
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        return pc_find_ptes(k, page) if page._mapcount != 0 else []
    mapping = page.mapping
    if mapping is None:
        return []
    if isinstance(mapping, AnonMm):
        return am_find_ptes(k, page)
    if isinstance(mapping, AnonVma):
        vids = list(mapping.head)
    else:
        vids = vl_i_mmap_vmas(mapping)
    found: list[tuple[int, int]] = []
    reg = k.mm_registry
    mem = k.machine.mem
    for vid in vids:
        vma = reg.vmas[vid]
        address = vma_address(page, vma)
        if address < 0:
            continue
        mm = reg.mms[vma.vm_mm]
        ptep = pte_offset_map(mem, mm.pgd, address)
        if ptep < 0:
            continue
        pte = mem.read_u32(ptep)
        if pte_present(pte) and pte_pfn(pte) == page.pfn:
            found.append((mm.mm_id, address))
    return found


def vl_rmap_expected_bytes(k: Kernel) -> int:
    """What rmap_bytes should be from the live structures of the configured design."""
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        return pc_chain_bytes(k)
    if k.cfg.rmap == _RMAP_ANONMM:
        return am_bytes(k)
    reg = k.mm_registry
    return SIZEOF_ANON_VMA * len(reg.anon_vmas) + VMA_RMAP_BYTES * len(reg.vmas)


def vl_rmap_problems(k: Kernel) -> list[str]:
    """Design-specific rmap structure checks (the pte_chain policy, anonmm counts); one line
    per problem."""
    out: list[str] = []
    if k.cfg.rmap == _RMAP_ANONMM:
        return am_problems(k)
    if k.cfg.rmap == _RMAP_PTE_CHAIN:
        for page in k.mem_map.pages:
            if page._mapcount != 0 or page.pte_chain is not None or page.pte_direct != 0:
                out.extend(pc_check_page(k, page))
    return out
