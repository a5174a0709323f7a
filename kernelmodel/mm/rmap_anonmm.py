"""Hugh Dickins' anonmm: object-based reverse mapping of anonymous pages by mm (mm/rmap.c at
"rmap 10 add anonmm rmap", 2.6.7-rc1).

anonmm sat in the 2.6.7 merge between the removal of pte chains (rmap 9) and Andrea
Arcangeli's anon_vma (rmap 39), and was removed again by rmap 38: no release shipped it. The
model runs it so its costs can be set beside pte chains and anon_vma on the same workload.

* Every mm has a ``struct anonmm`` (``mm.anonmm``). ``exec_rmap`` starts a bundle whose head
  is the new mm's anonmm (count 2: the mm and the head itself); ``dup_rmap`` (fork) links the
  child's anonmm at the tail of the parent's bundle (count 1, and one more on the head).
* The first pte of an anonymous page sets PG_anon, ``page.mapping`` = the faulting mm's
  anonmm (one more reference) and ``page.index`` = the page-aligned virtual address. A page
  can only be at that address in any mm of the bundle (mremap, which would move it, is not
  modelled, so rmap 11's early copy is not needed).
* page_referenced and try_to_unmap try the page's own mm first, then every other mm of the
  bundle in list order from there, at the same address, skipping mms that exited or have no
  rss; they stop once every pte was found. page_referenced also moves a page whose mm exited
  to the first live mm that maps it ("migrate"), so the dead anonmm can be freed.
* ``exit_rmap`` (mmput) clears ``anonmm->mm``; the anonmm is freed when its count reaches 0,
  the head when only its own reference is left after an exit (exit_mmap has unmapped the
  exiting mm's pages first, so the last reference to a bundle always goes at an exit).

rmap_bytes counts ``SIZEOF_ANONMM`` per live anonmm and nothing per vma or page (vmas gain
no rmap fields before rmap 16's prio_tree). File pages use the i_mmap object rmap of rmap 7,
shared with the anon_vma design (rmap.py).

Locking (anonhd->lock, page_table_lock trylocks, i_shared_sem) is not modelled: one CPU, so
the "failed" counts stay 0.

Invariants (``am_problems``):
    * ``mm.anonmm`` of every live mm names a live anonmm whose ``mm`` is that mm;
    * a head lists exactly the other anonmms that name it as ``head``;
    * every anonmm's count equals the references listed above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kernelmodel.include.bug import bug_on
from kernelmodel.include.mm_types import (
    SIZEOF_ANONMM,
    VM_LOCKED,
    VM_RESERVED,
    AnonMm,
    MmStruct,
    vl_pfn_id_pairs,
)
from kernelmodel.include.page import M_anon, PageAnon
from kernelmodel.mm.pgtable import (
    pte_offset_map,
    pte_pfn,
    pte_present,
    ptep_test_and_clear_young,
)
from machine.i386 import PAGE_MASK
from machine.state_read import as_state_dict, read_dict_list, read_int

if TYPE_CHECKING:
    from kernelmodel.include.page import Page
    from kernelmodel.kernel.kernel import Kernel

SWAP_AGAIN: Final = 1
SWAP_FAIL: Final = 2
_NO_ID: Final = -1


# ---- lifetime (exec_rmap, dup_rmap, exit_rmap, free_anonmm) -------------------------------------


def _anonmm_alloc(k: Kernel, mm_id: int, head: int) -> AnonMm:
    """kmem_cache_alloc(anonmm_cachep): a new anonmm, registered and counted in rmap_bytes."""
    reg = k.mm_registry
    am_id = reg.next_anonmm_id
    reg.next_anonmm_id += 1
    am = AnonMm(am_id, mm_id, head if head >= 0 else am_id)
    reg.anonmms[am_id] = am
    k.vmstat.add_rmap_bytes(SIZEOF_ANONMM)
    return am


def _anonmm_free(k: Kernel, am: AnonMm) -> None:
    del k.mm_registry.anonmms[am.anonmm_id]
    k.vmstat.add_rmap_bytes(-SIZEOF_ANONMM)


def exec_rmap(k: Kernel, mm: MmStruct) -> None:
    """exec_rmap(): a new mm starts a new bundle, its anonmm the head (count 2: mm and head).

    Caller: mm_alloc for an exec'd mm (the model's task creation).
    """
    am = _anonmm_alloc(k, mm.mm_id, _NO_ID)
    am.count = 2
    mm.anonmm = am.anonmm_id


def dup_rmap(k: Kernel, mm: MmStruct, oldmm: MmStruct) -> None:
    """dup_rmap(): the forked ``mm`` joins the tail of ``oldmm``'s bundle.

    Caller: copy_mm, before dup_mmap copies any pte.
    """
    reg = k.mm_registry
    hd = reg.anonmms[reg.anonmms[oldmm.anonmm].head]
    am = _anonmm_alloc(k, mm.mm_id, hd.anonmm_id)
    am.count = 1
    hd.count += 1
    hd.members.append(am.anonmm_id)
    mm.anonmm = am.anonmm_id


def exit_rmap(k: Kernel, mm: MmStruct) -> None:
    """exit_rmap(): the mm is gone; drop its reference, free what nothing else holds.

    Caller: mmput, after exit_mmap unmapped every page.
    """
    reg = k.mm_registry
    am = reg.anonmms[mm.anonmm]
    hd = reg.anonmms[am.head]
    mm.anonmm = _NO_ID
    am.mm = _NO_ID
    am.count -= 1
    if am.count == 0:
        bug_on(am is hd, "exit_rmap: head anonmm count reached 0")
        hd.members.remove(am.anonmm_id)
        _anonmm_free(k, am)
        hd.count -= 1
        bug_on(hd.count == 0, "exit_rmap: head anonmm count reached 0")
    if hd.count == 1:
        bug_on(hd.mm >= 0, "exit_rmap: freeing a head whose mm lives")
        bug_on(len(hd.members) != 0, "exit_rmap: freeing a head with members")
        _anonmm_free(k, hd)


def free_anonmm(k: Kernel, am: AnonMm) -> None:
    """free_anonmm(): an exited member's last page reference is gone; unlink and free it."""
    reg = k.mm_registry
    hd = reg.anonmms[am.head]
    bug_on(am.mm >= 0, "free_anonmm: mm still lives")
    bug_on(am is hd, "free_anonmm: freeing a head")
    hd.members.remove(am.anonmm_id)
    hd.count -= 1
    bug_on(hd.count == 0, "free_anonmm: head anonmm count reached 0")
    _anonmm_free(k, am)


# ---- adding and removing anonymous mappings ------------------------------------------------------


def am_page_add_anon_rmap(k: Kernel, page: Page, mm_id: int, address: int) -> None:
    """page_add_anon_rmap() of rmap 10: the first pte sets PG_anon, ``mapping`` = the mm's
    anonmm (one more reference) and ``index`` = the page-aligned address; nr_mapped counts it.

    Caller: rmap.page_add_anon_rmap (page_table_lock held).
    """
    reg = k.mm_registry
    if page._mapcount == 0:
        bug_on(PageAnon(page), "page_add_anon_rmap: PageAnon on an unmapped page")
        bug_on(page.mapping is not None, "page_add_anon_rmap: page->mapping set")
        am = reg.anonmms[reg.mms[mm_id].anonmm]
        page.flags |= M_anon
        page.index = address & PAGE_MASK
        page.mapping = am
        am.count += 1
        k.vmstat.nr_mapped += 1
        k.vmstat.nr_anon += 1
    else:
        bug_on(not PageAnon(page), "page_add_anon_rmap: mapped page is not anon")
        bug_on(page.index != address & PAGE_MASK, "page_add_anon_rmap: address differs")


def am_clear_page_anon(k: Kernel, page: Page) -> None:
    """clear_page_anon() of rmap 10: forget the anonmm and PG_anon; drop the page's
    reference, freeing an exited member's anonmm when it was the last."""
    am = page.mapping
    bug_on(not isinstance(am, AnonMm), "clear_page_anon: mapping is not an anonmm")
    assert isinstance(am, AnonMm)
    page.mapping = None
    page.flags &= ~M_anon
    k.vmstat.nr_anon -= 1
    am.count -= 1
    if am.count == 0:
        free_anonmm(k, am)


# ---- walks ---------------------------------------------------------------------------------------


def am_walk_order(k: Kernel, am: AnonMm) -> list[AnonMm]:
    """The other anonmms of ``am``'s bundle in the order ``list_for_each_entry`` from ``am``
    visits them (the circle head, members..., starting after ``am``)."""
    reg = k.mm_registry
    hd = reg.anonmms[am.head]
    circle = [hd.anonmm_id]
    circle.extend(hd.members)
    i = circle.index(am.anonmm_id)
    order = circle[i + 1 :] + circle[:i]
    return [reg.anonmms[x] for x in order]


def _live_rss(k: Kernel, am: AnonMm) -> MmStruct | None:
    """The anonmm's mm if it lives and has resident pages (the walks' ``mm && mm->rss``)."""
    if am.mm < 0:
        return None
    mm = k.mm_registry.mms[am.mm]
    return mm if mm.rss != 0 else None


def _pte_of(k: Kernel, page: Page, mm: MmStruct) -> int:
    """The pte address mapping ``page`` at ``page.index`` in ``mm``, or -1."""
    mem = k.machine.mem
    ptep = pte_offset_map(mem, mm.pgd, page.index)
    if ptep < 0:
        return -1
    pte = mem.read_u32(ptep)
    if not pte_present(pte) or pte_pfn(pte) != page.pfn:
        return -1
    return ptep


def _referenced_one(k: Kernel, page: Page, mm: MmStruct, mapcount: list[int]) -> int:
    """page_referenced_one(page, mm, address, ...) of rmap 10 (no TLB flush)."""
    k.vmstat.page_referenced_steps += 1
    k.vmstat.rmap_walk_steps += 1
    ptep = _pte_of(k, page, mm)
    if ptep < 0:
        return 0
    mapcount[0] -= 1
    return 1 if ptep_test_and_clear_young(k.machine.mem, ptep) else 0


def am_page_referenced_anon(k: Kernel, page: Page) -> int:
    """page_referenced_anon() of rmap 10: the page's mm, then the rest of the bundle.

    A page whose anonmm's mm exited moves to the first anonmm found mapping it (so the dead
    anonmm can be freed once its pages have moved).
    """
    first = page.mapping
    assert isinstance(first, AnonMm)
    mapcount = [page._mapcount]
    referenced = 0
    new_am: AnonMm | None = first
    mm = _live_rss(k, first)
    if first.mm < 0:
        new_am = None
    elif mm is not None:
        referenced += _referenced_one(k, page, mm, mapcount)
        if mapcount[0] == 0:
            return referenced
    for am in am_walk_order(k, first):
        mm = _live_rss(k, am)
        if mm is None:
            continue
        referenced += _referenced_one(k, page, mm, mapcount)
        if new_am is None and mapcount[0] < page._mapcount:
            new_am = am
        if mapcount[0] == 0:
            if new_am is not first and new_am is not None:
                _migrate(k, page, first, new_am)
            return referenced
    bug_on(True, "page_referenced_anon: not every pte was found")
    return referenced


def _migrate(k: Kernel, page: Page, old: AnonMm, new: AnonMm) -> None:
    """page_referenced_anon's "migrate": repoint the page from an extinct anonmm."""
    page.mapping = new
    new.count += 1
    old.count -= 1
    if old.count == 0:
        free_anonmm(k, old)


def _try_to_unmap_one(k: Kernel, page: Page, mm: MmStruct) -> int:
    """try_to_unmap_one(page, mm, address, mapcount, NULL) of rmap 10.

    The vma is looked up (find_vma) only once the pte is found; SWAP_FAIL when it is locked or
    reserved or the pte was young; otherwise rmap.vl_unmap_one clears it.
    """
    from kernelmodel.mm.memory import find_vma
    from kernelmodel.mm.rmap import vl_unmap_one

    vs = k.vmstat
    vs.try_to_unmap_steps += 1
    vs.rmap_walk_steps += 1
    ptep = _pte_of(k, page, mm)
    if ptep < 0:
        return SWAP_AGAIN
    address = page.index
    vma = find_vma(mm, address)
    if vma is None:
        return SWAP_AGAIN
    mem = k.machine.mem
    if (vma.vm_flags & (VM_LOCKED | VM_RESERVED)) != 0 or ptep_test_and_clear_young(mem, ptep):
        return SWAP_FAIL
    vl_unmap_one(k, page, mm, address, ptep)
    return SWAP_AGAIN


def am_try_to_unmap_anon(k: Kernel, page: Page) -> int:
    """try_to_unmap_anon() of rmap 10: the page's mm first, then the rest of its bundle;
    stop at SWAP_FAIL or once no pte is left."""
    first = page.mapping
    assert isinstance(first, AnonMm)
    ret = SWAP_AGAIN
    mm = _live_rss(k, first)
    if mm is not None:
        ret = _try_to_unmap_one(k, page, mm)
        if ret == SWAP_FAIL or page._mapcount == 0:
            return ret
    for am in am_walk_order(k, first):
        mm = _live_rss(k, am)
        if mm is None:
            continue
        ret = _try_to_unmap_one(k, page, mm)
        if ret == SWAP_FAIL or page._mapcount == 0:
            return ret
    return ret


def am_find_ptes(k: Kernel, page: Page) -> list[tuple[int, int]]:
    """Every (mm id, address) of the bundle whose present pte maps ``page`` (no side effect,
    no early stop; for check_mm)."""
    first = page.mapping
    if not isinstance(first, AnonMm):
        return []
    found: list[tuple[int, int]] = []
    for am in [first, *am_walk_order(k, first)]:
        if am.mm < 0:
            continue
        if _pte_of(k, page, k.mm_registry.mms[am.mm]) >= 0:
            found.append((am.mm, page.index))
    return found


# ---- accounting, checks and snapshots ------------------------------------------------------------


def am_bytes(k: Kernel) -> int:
    """What the live anonmms cost."""
    return SIZEOF_ANONMM * len(k.mm_registry.anonmms)


def am_problems(k: Kernel) -> list[str]:
    """The anonmm invariants of the module docstring; one line per problem."""
    out: list[str] = []
    reg = k.mm_registry
    want: dict[int, int] = {}
    for am in reg.anonmms.values():
        n = 1 if am.mm >= 0 else 0
        if am.head == am.anonmm_id:
            n += 1 + len(am.members)
        else:
            hd = reg.anonmms.get(am.head)
            if hd is None or am.anonmm_id not in hd.members:
                out.append(f"anonmm {am.anonmm_id}: not on its head {am.head}'s list")
        if am.mm >= 0:
            mm = reg.mms.get(am.mm)
            if mm is None or mm.anonmm != am.anonmm_id:
                out.append(f"anonmm {am.anonmm_id}: mm {am.mm} does not point back")
        want[am.anonmm_id] = n
    for mm in reg.mms.values():
        if mm.anonmm not in reg.anonmms:
            out.append(f"mm {mm.mm_id}: anonmm {mm.anonmm} is not live")
    for page in k.mem_map.pages:
        m = page.mapping
        if isinstance(m, AnonMm):
            want[m.anonmm_id] = want.get(m.anonmm_id, 0) + 1
            if reg.anonmms.get(m.anonmm_id) is not m:
                out.append(f"page {page.pfn}: mapping anonmm {m.anonmm_id} is not live")
    for am in reg.anonmms.values():
        if am.count != want[am.anonmm_id]:
            out.append(f"anonmm {am.anonmm_id}: count {am.count}, {want[am.anonmm_id]} refs")
    return out


def am_to_state(k: Kernel) -> dict[str, object]:
    """The anonmms and each anonymous page's anonmm (``[pfn, anonmm id, ...]``): the page's
    anonmm is where it was first mapped, which the page tables cannot tell."""
    reg = k.mm_registry
    pairs: list[int] = []
    for page in k.mem_map.pages:
        m = page.mapping
        if isinstance(m, AnonMm):
            pairs.append(page.pfn)
            pairs.append(m.anonmm_id)
    from kernelmodel.include.state_generated import save_anon_mm

    return {
        "anonmms": [save_anon_mm(am) for am in reg.anonmms.values()],
        "next_anonmm_id": reg.next_anonmm_id,
        "pages": pairs,
    }


def am_load_state(k: Kernel, state: object) -> None:
    """Rebuild the anonmms from ``am_to_state`` output and point the pages at them.

    Caller: mem_map and the mm registry are restored.

    Raises:
        ValueError: the state is malformed or names an unknown anonmm or frame.
    """
    from kernelmodel.include.state_generated import load_anon_mm

    saved = as_state_dict(state, "anonmm state")
    reg = k.mm_registry
    for row in read_dict_list(saved, "anonmms", "anonmm state"):
        am = load_anon_mm(row)
        reg.anonmms[am.anonmm_id] = am
    reg.next_anonmm_id = read_int(saved, "next_anonmm_id", "anonmm state")
    pages = k.mem_map.pages
    for pfn, am_id in vl_pfn_id_pairs(saved.get("pages"), len(pages), "anonmm state: pages"):
        target = reg.anonmms.get(am_id)
        if target is None:
            raise ValueError(f"anonmm state: anonymous page {pfn} -> unknown anonmm {am_id}")
        pages[pfn].mapping = target
