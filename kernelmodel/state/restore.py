"""Rebuild a running kernel from its plain data: the inverse of ``Kernel.to_state`` (model only,
no kernel counterpart or release; it rebuilds whichever release's designs the state holds).

No kernel counterpart. The nearest relatives are swsusp's resume (a whole machine from an
image) and CRIU's restore (a process tree from its images, objects first, then the links
between them). ``vl_kernel_from_state`` works in two passes:

1. **create**: the machine (``Machine.from_state``: clock and event queue, RAM, MMU and TLB,
   CPU, disk with its queue and in-flight request), then each kernel component from its own
   ``from_state``: counters, trace, rng, mem_map, the zone (free lists and LRU order are link
   arrays in its state), the filesystem (each inode's page cache re-links ``page.mapping`` of
   its pages), the data oracles, bios in flight, every mm/vma/anon_vma (by id), writeback
   globals, swap areas, the swap cache, the LRU pagevecs, kswapd and OOM bookkeeping;
2. **link**: the user programs, then every task with its CPU context (its program by id) and
   its kernel stack (``vl_kop_from_state``: each op finds its inode, pages and frames by id in
   the objects of pass 1), the scheduler's queues, wait queues and timers, and last
   ``page.mapping`` of anonymous pages.

``page.mapping`` of an anonymous page is the one reference ``Kernel.to_state`` does not store
in the anon_vma design (``MemMap.to_state`` leaves mappings to their owners, and anon_vma
stores only its vmas; with pte chains it is NULL, and the anonmm design stores it under
"anonmm"). It is derived here from what the state does hold: PG_anon is set exactly on
mapped anonymous pages (rmap.py), and every vma that maps such a page is on the page's
anon_vma, so the anon_vma is ``vma.anon_vma`` of any vma whose present pte maps the page.
Two vmas disagreeing is an inconsistency (ValueError).

Nothing here runs the model: no event is dispatched and no op is stepped. ``vl_restore_problems``
then runs the invariant checker (with the struct page and filesystem field checks), the data
oracle and the durable-data check over the result, so that a damaged or contradictory state
is refused before anything runs.

Invariants of the result (the caller checks the first by hashing):
    * ``vl_kernel_from_state(s).to_state() == s`` for any ``s`` a kernel produced;
    * the machine's handlers are attached to the new kernel;
    * nothing outside the returned objects was changed.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.check.check import check_invariants
from kernelmodel.check.check_durable import check_durable
from kernelmodel.check.check_fields import check_writeback_io
from kernelmodel.fs.state_generated import load_bio, load_super_block
from kernelmodel.include.mm_types import AnonVma, MmStruct, VlMmRegistry, VmArea
from kernelmodel.include.page import M_anon, Page
from kernelmodel.include.state_generated import FIELDS as PAGE_FIELDS
from kernelmodel.include.state_generated import (
    load_mem_map,
    load_page_allocator,
    load_page_state_into,
    load_vl_mm_registry,
    load_writeback_state,
)
from kernelmodel.include.swap_generated import (
    load_kswapd_state,
    load_lru_pvecs,
    load_oom_state,
    load_swap_state,
)
from kernelmodel.include.trace_generated import load_trace_ring
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.frame_classes import vl_frame_classes
from kernelmodel.kernel.frame_state import vl_frame_from_state
from kernelmodel.kernel.kernel import Kernel, vl_max_threads
from kernelmodel.kernel.state_generated import load_kernel_config, load_kernel_into
from kernelmodel.lib.radix_tree import vl_radix_tree_items
from kernelmodel.lib.state_generated import load_rng
from kernelmodel.mm.pgtable import pte_present
from kernelmodel.mm.rmap_anonmm import am_load_state
from kernelmodel.mm.rmap_pte_chain import pc_load_state
from kernelmodel.mm.state_generated import load_swapper_space
from kernelmodel.mm.swapcache_fields import vl_swapcache_by_mapping
from kernelmodel.oracle.oracle import Oracle
from kernelmodel.oracle.oracle_mm import VlMmOracle
from kernelmodel.oracle.state_generated import load_oracle, load_vl_mm_oracle
from machine.board import Machine, MachineConfig
from machine.i386 import PAGE_SHIFT, USER_PTRS_PER_PGD
from machine.state_generated import load_machine_config
from machine.state_read import (
    as_state_dict,
    read_dict,
    read_int,
    read_list,
)

#: The scratch machine the Kernel constructor boots on before every field is replaced: the
#: constructor allocates from its own memory (the zero page, poisoning), which must not be the
#: restored machine's.
_SCRATCH_MEM_BYTES: Final = 1 << 20
_SCRATCH_DISK_BYTES: Final = 1 << 20
#: How the checked reads (machine/state_read.py) name the kernel's own sections in an error.
_W: Final = "kernel state"

#: Rebuild one frame of a task's stack (frame_state.py; the name the tests and tools use).
vl_kop_from_state = vl_frame_from_state
#: The registry of frame kinds the stacks are loaded by, filled with every frame class.
FRAME_KINDS: Final = vl_frame_classes()


# ---- page.mapping of anonymous pages ------------------------------------------------------------


def _link_anon_mm(k: Kernel, mm: MmStruct) -> None:
    """Set ``page.mapping`` of the PG_anon pages ``mm`` maps, from the vmas' anon_vmas."""
    mem = k.machine.mem
    words = mem.words
    pages = k.mem_map.pages
    nframes = len(pages)
    zero = k.zero_page.pfn
    reg = k.mm_registry
    if mm.pgd < 0 or mm.pgd >= nframes:
        raise ValueError(f"kernel state: mm {mm.mm_id} page directory {mm.pgd} outside RAM")
    base = (mm.pgd << PAGE_SHIFT) >> 2
    pdes = words[base : base + USER_PTRS_PER_PGD].tolist()
    for i in range(USER_PTRS_PER_PGD):
        pde = pdes[i]
        if pde == 0 or (pde & 1) == 0:
            continue
        pt = pde >> PAGE_SHIFT
        if pt >= nframes:
            raise ValueError(f"kernel state: mm {mm.mm_id} pde {i} names frame {pt} beyond RAM")
        ptes = words[(pt << PAGE_SHIFT) >> 2 : ((pt << PAGE_SHIFT) >> 2) + 1024].tolist()
        for j in range(1024):
            pte = ptes[j]
            if pte == 0 or not pte_present(pte):
                continue
            pfn = pte >> PAGE_SHIFT
            if pfn == zero or pfn >= nframes:
                continue
            page = pages[pfn]
            if (page.flags & M_anon) == 0:
                continue
            addr = (i << 22) | (j << PAGE_SHIFT)
            av = _anon_vma_at(reg, mm, addr)
            if page.mapping is None:
                page.mapping = av
            elif page.mapping is not av:
                raise ValueError(f"kernel state: anonymous page {pfn} is mapped from two anon_vmas")


def _vma_covering(mm: MmStruct, addr: int) -> VmArea | None:
    """The vma of ``mm`` that covers ``addr``, or None (find_vma without touching mmap_cache,
    which is state)."""
    vmas = mm.mmap
    lo = 0
    hi = len(vmas)
    while lo < hi:
        mid = (lo + hi) >> 1
        if vmas[mid].vm_end > addr:
            hi = mid
        else:
            lo = mid + 1
    if lo == len(vmas) or vmas[lo].vm_start > addr:
        return None
    return vmas[lo]


def _anon_vma_at(reg: VlMmRegistry, mm: MmStruct, addr: int) -> AnonVma:
    vma = _vma_covering(mm, addr)
    if vma is None:
        raise ValueError(f"kernel state: mm {mm.mm_id} maps {addr:#010x} outside any vma")
    av = reg.anon_vmas.get(vma.anon_vma)
    if av is None:
        raise ValueError(f"kernel state: vma {vma.vma_id} maps an anonymous page but has no "
                         f"anon_vma")
    return av


def vl_link_anon_pages(k: Kernel) -> None:
    """Re-derive ``page.mapping`` of every mapped anonymous page (see the module docstring).

    Raises:
        ValueError: a page table or vma contradicts the pages.
    """
    for mm in k.mm_registry.mms.values():
        _link_anon_mm(k, mm)


# ---- the whole kernel ---------------------------------------------------------------------------


def _scratch_kernel(cfg: KernelConfig, elevator: str) -> Kernel:
    """A kernel booted on a tiny machine, whose every field the restore then replaces."""
    scratch = Machine(MachineConfig(_SCRATCH_MEM_BYTES, _SCRATCH_DISK_BYTES, 64, elevator))
    k = Kernel(scratch, cfg, Oracle(), VlMmOracle())
    k.vl_checker = check_invariants
    return k


def _components_from_state(k: Kernel, state: dict[str, object]) -> None:
    """Pass 1 for the kernel: every component from its own ``from_state``."""
    machine = k.machine
    load_page_state_into(k.vmstat, read_dict(state, "vmstat", _W))
    k.trace = load_trace_ring(read_dict(state, "trace", _W))
    k.rng = load_rng(read_dict(state, "rng", _W))
    mem_map = load_mem_map(read_dict(state, "mem_map", _W))
    if mem_map.nframes != machine.mem.nframes:
        raise ValueError("kernel state: mem_map and RAM differ in size")
    k.mem_map = mem_map
    k.pgdat = load_page_allocator(read_dict(state, "pgdat", _W), mem_map, k.vmstat, machine.mem)
    zero = read_int(state, "zero_page", _W)
    if zero < 0 or zero >= mem_map.nframes:
        raise ValueError(f"kernel state: zero page {zero} outside mem_map")
    k.zero_page = mem_map.pages[zero]
    k.sb = load_super_block(read_dict(state, "sb", _W), mem_map.pages)
    k.oracle = load_oracle(read_dict(state, "oracle", _W), machine.mem, machine.disk)
    k.mm_oracle = load_vl_mm_oracle(read_dict(state, "mm_oracle", _W), machine.mem,
                                    machine.disk)
    for item in read_list(state, "bios", _W):
        bio = load_bio(as_state_dict(item, "kernel state: bio"))
        if bio.bio_id in k.bios:
            raise ValueError(f"kernel state: bio {bio.bio_id} appears twice")
        k.bios[bio.bio_id] = bio
    k.mm_registry = load_vl_mm_registry(read_dict(state, "mm", _W))
    k.wb = load_writeback_state(read_dict(state, "wb", _W))
    k.swap = load_swap_state(read_dict(state, "swap", _W))
    k.swapper_space = load_swapper_space(read_dict(state, "swapper_space", _W), mem_map)
    if vl_swapcache_by_mapping(k):
        # 2.6.5: page->mapping of a swap-cache page is &swapper_space (swapcache_fields.py)
        for _index, item in vl_radix_tree_items(k.swapper_space.page_tree):
            if isinstance(item, Page):
                item.mapping = k.swapper_space
    k.lru_pvecs = load_lru_pvecs(read_dict(state, "lru_pvecs", _W))
    k.kswapd = load_kswapd_state(read_dict(state, "kswapd", _W))
    k.oom = load_oom_state(read_dict(state, "oom", _W))


def vl_check_sizes(state: dict[str, object]) -> None:
    """Refuse declared sizes that the state does not back with data, before anything is
    allocated from them.

    RAM, mem_map, the zone's link arrays and the TLB are allocated from sizes the state
    declares; each must match the length of a column the state actually holds, so that a
    small file cannot make the restore allocate a large machine. The swap map is allocated
    from its area's ``max``, which must fit the configured swap size. Every mm needs its own
    page directory inside RAM, and there are no more mms than tasks.

    Raises:
        ValueError: a size disagrees with the data or the configuration.
    """
    machine = read_dict(state, "machine", _W)
    config = load_machine_config(read_dict(machine, "config", _W))
    config.validate()
    nframes = config.nframes
    if read_int(read_dict(machine, "mem", _W), "nframes", _W) != nframes:
        raise ValueError("kernel state: RAM size disagrees with the machine configuration")
    mmu = read_dict(machine, "mmu", _W)
    tlb = config.tlb_entries
    if read_int(mmu, "tlb_entries", _W) != tlb or len(read_list(mmu, "tlb_vpn", _W)) != tlb or \
            len(read_list(mmu, "tlb_word", _W)) != tlb:
        raise ValueError("kernel state: the TLB disagrees with the machine configuration")
    mem_map = read_dict(state, "mem_map", _W)
    if read_int(mem_map, "nframes", _W) != nframes:
        raise ValueError("kernel state: mem_map and RAM differ in size")
    for key in (key for key, _attr, _type, how in PAGE_FIELDS["Page"] if how == "column"):
        if len(read_list(mem_map, key, _W)) != nframes:
            raise ValueError(f"kernel state: mem_map column {key} does not have {nframes} pages")
    zone = read_dict(read_dict(state, "pgdat", _W), "zone", _W)
    span = read_int(zone, "spanned_pages", _W)
    start = read_int(zone, "zone_start_pfn", _W)
    if span <= 0 or start < 0 or start + span > nframes or \
            len(read_list(zone, "free_order", _W)) != span:
        raise ValueError("kernel state: the zone does not fit mem_map")
    if len(read_list(zone, "lru_next", _W)) != len(read_list(zone, "lru_prev", _W)) or \
            len(read_list(zone, "lru_next", _W)) > span + 64:
        raise ValueError("kernel state: the zone's link arrays do not fit the zone")
    swap_pages = read_int(read_dict(state, "cfg", _W), "swap_bytes", _W) // 4096
    for area in read_list(read_dict(state, "swap", _W), "swap_info", _W):
        if read_int(as_state_dict(area, "kernel state: swap_info"), "max", _W) > swap_pages + 1:
            raise ValueError("kernel state: a swap area is larger than the configured swap")
    _check_mm_sizes(state, nframes)


def _check_mm_sizes(state: dict[str, object], nframes: int) -> None:
    mms = read_list(read_dict(state, "mm", _W), "mms", _W)
    tasks = read_list(read_dict(state, "kernel", _W), "tasks", _W)
    if len(mms) > len(tasks):
        raise ValueError(f"kernel state: {len(mms)} mms for {len(tasks)} tasks")
    pgds: set[int] = set()
    for item in mms:
        pgd = read_int(as_state_dict(item, "kernel state: mm"), "pgd", _W)
        if pgd < 0 or pgd >= nframes or pgd in pgds:
            raise ValueError(f"kernel state: page directory {pgd} is outside RAM or shared")
        pgds.add(pgd)


def vl_kernel_from_state(state: dict[str, object]) -> Kernel:
    """Rebuild the machine and the kernel from ``Kernel.to_state`` output (two passes).

    Nothing runs: no event is dispatched, no op stepped. The caller should check the result
    with ``vl_restore_problems`` and compare ``to_state()`` with ``state``.

    Raises:
        ValueError: the state is malformed or refers to objects it does not hold.
        KernelBug: a component's own checks refused it.
    """
    vl_check_sizes(state)
    machine = Machine.from_state(read_dict(state, "machine", _W))
    cfg = load_kernel_config(read_dict(state, "cfg", _W))
    k = _scratch_kernel(cfg, machine.config.elevator)
    k.machine = machine
    k.max_threads = cfg.threads_max or vl_max_threads(machine.mem.nframes)
    machine.attach(k, k)
    _components_from_state(k, state)
    load_kernel_into(k, read_dict(state, "kernel", _W))
    if cfg.rmap == "anon_vma":
        vl_link_anon_pages(k)
    elif cfg.rmap == "pte_chain":
        pc_load_state(k, read_list(state, "pte_chains", _W))
    else:
        am_load_state(k, state.get("anonmm"))
    return k


def vl_restore_problems(k: Kernel) -> list[str]:
    """The invariant checker, the data oracle and the disk's durable pages over a restored
    kernel; [] when all agree.

    The invariant checker includes the checks of the fields only it sees (check_fields:
    every struct page field; check_fs: the block bitmap against the inodes' extents);
    check_writeback_io finds every PG_writeback page in a bio, and check_durable compares
    the disk with what the oracle says an integrity sync made durable. A state saved between
    two events of a correct run passes them all; anything else means the state was damaged
    (or the model has a bug worth a report). The checks leave no trace: the checker's
    find_vma calls move ``mmap_cache``, which is state, so each mm's cache is put back
    afterwards.
    """
    caches: list[tuple[MmStruct, VmArea | None]] = []
    for mm in k.mm_registry.mms.values():
        caches.append((mm, mm.mmap_cache))
    try:
        return (check_invariants(k) + check_writeback_io(k) + k.verify_data()
                + check_durable(k))
    finally:
        for mm, cache in caches:
            mm.mmap_cache = cache
