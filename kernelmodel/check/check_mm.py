"""The process-memory invariant checker (the model's RMAP_DEBUG; no single kernel counterpart,
so no release: it checks the rules of whichever release's designs the kernel runs).

``check_mm(k)`` walks every mm's page tables in machine memory and cross-checks them with the
vmas, struct page, the reverse mapping and the counters:

* each page's ``_mapcount`` equals the number of present ptes that map it, and its reference
  count is at least that;
* the rmap walk from each mapped page (rmap.vl_rmap_find_ptes: the walk page_referenced and
  try_to_unmap do) finds exactly the ptes that map it;
* PG_anon pages are mapped; their ``mapping`` is a live anon_vma (anon_vma design), a live
  anonmm with the page's address in ``index`` (anonmm) or NULL (pte chains); nr_mapped and
  nr_anon equal their recounts;
* each mm's rss equals its present ptes (ZERO_PAGE excluded); ZERO_PAGE is never writable;
* every present or swap pte lies inside a vma; ptes of private vmas are never writable
  unless the page is mapped once (copy-on-write must have happened);
* page-table frames: each present PDE names a frame owned by that mm in the registry, the
  owner table has no other frames, ``nr_ptes`` and nr_page_table_pages match;
* vma lists are sorted and disjoint, map_count matches, anon_vma lists and i_mmap lists hold
  exactly the vmas that point at them, and no anon_vma is empty (none exists outside the
  anon_vma design);
* rmap_bytes equals what the live rmap structures cost (anon_vmas and vmas, anonmms, or pte
  chains), and each design's own structure checks pass (rmap.vl_rmap_problems).

Invariants: none of its own; it returns one line per violation (empty list: all good).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.mm_types import (
    VM_SHARED,
    AnonMm,
    AnonVma,
    MmStruct,
)
from kernelmodel.include.page import PageAnon, PageReserved, PageSwapCache
from kernelmodel.mm.pgtable import pte_file, pte_present
from kernelmodel.mm.swapcache_fields import vl_swapcache_by_mapping
from machine.i386 import PAGE_SHIFT, PAGE_SIZE, PTE_P, PTE_RW, USER_PTRS_PER_PGD

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

_FRAME: Final = 0xFFFFF000


class _Walk:
    """What the page-table walk found (scratch data of one check)."""

    def __init__(self) -> None:
        #: pfn -> [(mm id, address, pte)] of present ptes mapping it (ZERO_PAGE excluded).
        self.maps: dict[int, list[tuple[int, int, int]]] = {}
        #: pt frames seen in PDEs -> mm id.
        self.pt_frames: dict[int, int] = {}


def _walk_mm(k: Kernel, mm: MmStruct, w: _Walk, out: list[str]) -> None:
    """Read every user PDE and pte of ``mm`` straight from memory."""
    mem = k.machine.mem
    words = mem.words
    zero = k.zero_page.pfn
    base = (mm.pgd << PAGE_SHIFT) >> 2
    pdes = words[base : base + USER_PTRS_PER_PGD].tolist()
    rss = 0
    for i in range(USER_PTRS_PER_PGD):
        pde = pdes[i]
        if pde == 0:
            continue
        if (pde & PTE_P) == 0:
            out.append(f"mm {mm.mm_id}: pde {i} is not present but not empty ({pde:#x})")
            continue
        pt = pde >> PAGE_SHIFT
        if pt in w.pt_frames:
            out.append(f"mm {mm.mm_id}: page table {pt} also used by mm {w.pt_frames[pt]}")
        w.pt_frames[pt] = mm.mm_id
        ptes = words[(pt << PAGE_SHIFT) >> 2 : ((pt << PAGE_SHIFT) >> 2) + 1024].tolist()
        for j in range(1024):
            pte = ptes[j]
            if pte == 0:
                continue
            addr = (i << 22) | (j << PAGE_SHIFT)
            _check_pte_vma(mm, addr, pte, zero, out)
            if pte_present(pte) and (pte >> PAGE_SHIFT) != zero:
                rss += 1
                w.maps.setdefault(pte >> PAGE_SHIFT, []).append((mm.mm_id, addr, pte))
    if rss != mm.rss:
        out.append(f"mm {mm.mm_id}: rss {mm.rss} but {rss} present ptes")


def _check_pte_vma(mm: MmStruct, addr: int, pte: int, zero: int, out: list[str]) -> None:
    from kernelmodel.mm.memory import find_vma

    vma = find_vma(mm, addr)
    if vma is None or vma.vm_start > addr:
        out.append(f"mm {mm.mm_id} {addr:#010x}: pte {pte:#x} outside any vma")
        return
    if not pte_present(pte):
        if pte_file(pte) and vma.vm_file < 0:
            out.append(f"mm {mm.mm_id} {addr:#010x}: file pte in an anonymous vma")
        return
    if (pte >> PAGE_SHIFT) == zero and (pte & PTE_RW):
        out.append(f"mm {mm.mm_id} {addr:#010x}: ZERO_PAGE mapped writable")


def _check_pages(k: Kernel, w: _Walk, out: list[str]) -> None:
    """mapcount, references, PG_anon state and nr_mapped / nr_anon against the walk."""
    nr_mapped = 0
    nr_anon = 0
    for page in k.mem_map.pages:
        if PageAnon(page):
            nr_anon += 1
        found = w.maps.get(page.pfn)
        n = len(found) if found is not None else 0
        if page._mapcount != 0:
            nr_mapped += 1
        if n == 0 and page._mapcount == 0:
            if PageAnon(page):
                out.append(f"page {page.pfn}: PG_anon but not mapped")
            continue
        if page._mapcount != n:
            out.append(f"page {page.pfn}: mapcount {page._mapcount} but {n} ptes map it")
        if page._count < page._mapcount:
            out.append(f"page {page.pfn}: count {page._count} below mapcount {page._mapcount}")
        if PageReserved(page):
            out.append(f"page {page.pfn}: reserved page mapped by user ptes")
        if found is not None:
            _check_cow_ptes(k, page._mapcount, found, out)
    vs = k.vmstat
    if vs.nr_mapped != nr_mapped:
        out.append(f"nr_mapped {vs.nr_mapped} but {nr_mapped} mapped pages")
    if vs.nr_anon != nr_anon:
        out.append(f"nr_anon {vs.nr_anon} but {nr_anon} PG_anon pages")


def _check_cow_ptes(
    k: Kernel, mapcount: int, found: list[tuple[int, int, int]], out: list[str]
) -> None:
    """A writable pte in a private vma must map a page nobody else maps (COW broken)."""
    from kernelmodel.mm.memory import find_vma

    if mapcount <= 1:
        return
    for mm_id, addr, pte in found:
        if (pte & PTE_RW) == 0:
            continue
        mm = k.mm_registry.mms[mm_id]
        vma = find_vma(mm, addr)
        if vma is not None and (vma.vm_flags & VM_SHARED) == 0:
            out.append(f"mm {mm_id} {addr:#010x}: writable pte to a page mapped {mapcount} times")


def _check_rmap(k: Kernel, w: _Walk, out: list[str]) -> None:
    """The rmap walk from each mapped page finds exactly its ptes; anon pages are coherent."""
    from kernelmodel.mm.rmap import vl_rmap_find_ptes

    pages = k.mem_map.pages
    for pfn, found in w.maps.items():
        page = pages[pfn]
        want = sorted((mm_id, addr) for mm_id, addr, _pte in found)
        got = sorted(vl_rmap_find_ptes(k, page))
        if got != want:
            out.append(f"page {pfn}: rmap walk finds {got}, page tables map it at {want}")
        if PageAnon(page):
            _check_anon_mapping(k, page, out)


def _check_anon_mapping(k: Kernel, page: Page, out: list[str]) -> None:
    """``mapping`` of a mapped PG_anon page, per design: a live anon_vma, a live anonmm with a
    page-aligned address in ``index``, or NULL (2.6.6's pte chains; &swapper_space for a
    2.6.5 swap-cache page)."""
    reg = k.mm_registry
    m = page.mapping
    mode = k.cfg.rmap
    if mode == "anon_vma":
        if not isinstance(m, AnonVma) or reg.anon_vmas.get(m.anon_vma_id) is not m:
            out.append(f"page {page.pfn}: PG_anon but mapping is not a live anon_vma")
    elif mode == "anonmm":
        if not isinstance(m, AnonMm) or reg.anonmms.get(m.anonmm_id) is not m:
            out.append(f"page {page.pfn}: PG_anon but mapping is not a live anonmm")
        elif page.index & (PAGE_SIZE - 1):
            out.append(f"page {page.pfn}: anonmm page index {page.index:#x} is not an address")
    elif m is not None and not (PageSwapCache(page) and vl_swapcache_by_mapping(k)):
        out.append(f"page {page.pfn}: PG_anon with pte chains but mapping is set")


def _check_pgtables(k: Kernel, w: _Walk, out: list[str]) -> None:
    reg = k.mm_registry
    per_mm: dict[int, int] = {}
    for pt, mm_id in w.pt_frames.items():
        per_mm[mm_id] = per_mm.get(mm_id, 0) + 1
        if reg.pt_owner.get(pt, -1) != mm_id:
            out.append(f"page table {pt} of mm {mm_id} not owned by it in the registry")
        if k.mem_map.pages[pt]._count < 1:
            out.append(f"page table {pt} has a zero page count")
    for pt in reg.pt_owner:
        if pt not in w.pt_frames:
            out.append(f"registry owns page table {pt} that no pde points at")
    for mm in reg.mms.values():
        if mm.nr_ptes != per_mm.get(mm.mm_id, 0):
            out.append(f"mm {mm.mm_id}: nr_ptes {mm.nr_ptes}, {per_mm.get(mm.mm_id, 0)} in use")
    if k.vmstat.nr_page_table_pages != len(w.pt_frames):
        out.append(
            f"nr_page_table_pages {k.vmstat.nr_page_table_pages} but {len(w.pt_frames)} in use"
        )


def _check_vmas(k: Kernel, out: list[str]) -> None:
    reg = k.mm_registry
    linked: dict[int, int] = {}
    for mm in reg.mms.values():
        prev_end = 0
        if mm.map_count != len(mm.mmap):
            out.append(f"mm {mm.mm_id}: map_count {mm.map_count}, {len(mm.mmap)} vmas")
        for vma in mm.mmap:
            if vma.vm_start < prev_end or vma.vm_start >= vma.vm_end:
                out.append(f"mm {mm.mm_id}: vma {vma.vma_id} out of order or empty")
            prev_end = vma.vm_end
            if vma.vm_mm != mm.mm_id or reg.vmas.get(vma.vma_id) is not vma:
                out.append(f"mm {mm.mm_id}: vma {vma.vma_id} not registered to it")
            linked[vma.vma_id] = mm.mm_id
    for vid in reg.vmas:
        if vid not in linked:
            out.append(f"vma {vid} is registered but on no mm's list")
    _check_anon_vmas(k, out)
    _check_i_mmap(k, out)


def _check_anon_vmas(k: Kernel, out: list[str]) -> None:
    reg = k.mm_registry
    if k.cfg.rmap != "anon_vma" and reg.anon_vmas:
        out.append(f"{len(reg.anon_vmas)} anon_vma(s) exist in the {k.cfg.rmap} design")
    for av in reg.anon_vmas.values():
        if not av.head:
            out.append(f"anon_vma {av.anon_vma_id} is empty but not freed")
        if len(set(av.head)) != len(av.head):
            out.append(f"anon_vma {av.anon_vma_id} lists a vma twice")
        for vid in av.head:
            vma = reg.vmas.get(vid)
            if vma is None or vma.anon_vma != av.anon_vma_id:
                out.append(f"anon_vma {av.anon_vma_id} lists vma {vid} that does not point back")
    for vma in reg.vmas.values():
        if vma.anon_vma >= 0:
            av2 = reg.anon_vmas.get(vma.anon_vma)
            if av2 is None or vma.vma_id not in av2.head:
                out.append(f"vma {vma.vma_id} is not on its anon_vma {vma.anon_vma}")


def _check_i_mmap(k: Kernel, out: list[str]) -> None:
    from kernelmodel.fs.fs import vl_inode

    reg = k.mm_registry
    for vma in reg.vmas.values():
        if vma.vm_file < 0:
            continue
        inode = vl_inode(k, vma.vm_file)
        if inode is None:
            out.append(f"vma {vma.vma_id} maps dead inode {vma.vm_file}")
            continue
        m = inode.i_mapping
        lst = m.i_mmap_shared if vma.vm_flags & VM_SHARED else m.i_mmap
        if lst.count(vma.vma_id) != 1:
            out.append(f"vma {vma.vma_id} is not once on inode {vma.vm_file}'s i_mmap list")
    for inode in k.sb.s_inodes.values():
        for vid in inode.i_mapping.i_mmap + inode.i_mapping.i_mmap_shared:
            v = reg.vmas.get(vid)
            if v is None or v.vm_file != inode.i_ino:
                out.append(f"inode {inode.i_ino}: i_mmap lists vma {vid} that does not map it")


def _check_rmap_bytes(k: Kernel, out: list[str]) -> None:
    from kernelmodel.mm.rmap import vl_rmap_expected_bytes, vl_rmap_problems

    out.extend(vl_rmap_problems(k))
    want = vl_rmap_expected_bytes(k)
    if k.vmstat.rmap_bytes != want:
        out.append(f"rmap_bytes {k.vmstat.rmap_bytes} but the live structures cost {want}")


def check_mm(k: Kernel) -> list[str]:
    """Cross-check page tables, struct page, rmap, vmas and counters; one line per problem."""
    out: list[str] = []
    w = _Walk()
    for mm in k.mm_registry.mms.values():
        _walk_mm(k, mm, w, out)
    _check_pages(k, w, out)
    _check_rmap(k, w, out)
    _check_pgtables(k, w, out)
    _check_vmas(k, out)
    _check_rmap_bytes(k, out)
    return out
