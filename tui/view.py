"""The dashboard's read-only view of memory: frames, struct page, reverse maps, tasks, walks.

Every function here reads the kernel model and returns plain data (strings, ints and small
frozen dataclasses); none changes the model, and none imports Textual, so the views can be
tested on a bare ``Session``. Widgets turn the data into Rich text.

Callers hold the model between events: the app calls these on the main thread after a slice
of the simulation has returned, never while one runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernelmodel.include.mm_types import (
    VM_LOCKED,
    AnonMm,
    AnonVma,
    MmStruct,
    VmArea,
)
from kernelmodel.include.page import (
    LRU_ACTIVE,
    LRU_INACTIVE,
    M_direct,
    M_reserved,
    PageAnon,
    PageSwapCache,
    vl_flag_names,
)
from kernelmodel.inspect.frame_state import FRAME_STATE_NAMES, FS_FREE, vl_frame_state
from kernelmodel.inspect.vma import vl_vma_perms
from kernelmodel.inspect.walk import (
    vl_page_walk,
    vl_pde_slot_of,
    vl_pte_bits_text,
    vl_pte_text,
    vl_swap_entry_text,
)
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import PF_KTHREAD, TASK_RUNNING, Task, vl_outermost_caller
from kernelmodel.mm.filemap import AddressSpace
from kernelmodel.mm.pgtable import pgd_index, pte_index, pte_pfn
from kernelmodel.mm.rmap import vma_address
from kernelmodel.mm.swap_state import SwapperSpace
from kernelmodel.mm.swapcache_fields import page_swp_entry, vl_swapcache_by_mapping
from machine.i386 import PAGE_SHIFT, PGDIR_SHIFT, PTE_P
from scenarios.profiles import kernel_label as kernel_label

# ---- PTE bits and the kernel label (the inspection layer and the profile table own them) -----

pte_bits_text = vl_pte_bits_text
pte_text = vl_pte_text


# ---- frames -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RmapEntry:
    """One VMA the reverse map reaches for a page, and what its pte says."""

    vma_id: int
    mm_id: int
    tasks: str
    vm_start: int
    vm_end: int
    address: int
    ptep: int
    pte: int

    @property
    def maps_page(self) -> bool:
        """True when the pte is present (the caller checks it names the page's frame)."""
        return self.address >= 0 and (self.pte & PTE_P) != 0


@dataclass(frozen=True)
class PageInfo:
    """Everything the inspector shows about one frame."""

    pfn: int
    state: str
    role: str
    fields: tuple[tuple[str, str], ...]
    flags: int
    flag_names: tuple[str, ...]
    rmap_head: str
    rmap: tuple[RmapEntry, ...]


def mm_tasks(k: Kernel, mm_id: int) -> str:
    """The tasks using an mm, as "4 logger, 6 child" ("" when none)."""
    names = [f"{t.pid} {t.name}" for t in k.tasks.values() if t.mm_id == mm_id]
    return ", ".join(names)


def _inode_path(k: Kernel, ino: int) -> str:
    inode = k.sb.s_inodes.get(ino)
    return inode.vl_path if inode is not None else "?"


def mapping_text(k: Kernel, mapping: object | None) -> str:
    """``page->mapping`` in words: NULL, anon_vma #3, inode 12 (log), swapper_space."""
    if mapping is None:
        return "NULL"
    if isinstance(mapping, AnonVma):
        return f"anon_vma #{mapping.anon_vma_id}"
    if isinstance(mapping, AnonMm):
        owner = f"mm {mapping.mm}" if mapping.mm >= 0 else "its mm exited"
        return f"anonmm #{mapping.anonmm_id} ({owner})"
    if isinstance(mapping, AddressSpace):
        return f"inode {mapping.host} ({_inode_path(k, mapping.host)})"
    if isinstance(mapping, SwapperSpace):
        return "swapper_space"
    return type(mapping).__name__


def _lru_text(lru: int) -> str:
    if lru == LRU_ACTIVE:
        return "active_list"
    if lru == LRU_INACTIVE:
        return "inactive_list"
    return "none"


def _free_block(k: Kernel, pfn: int) -> tuple[int, int]:
    """(head pfn, order) of the free buddy block holding ``pfn``, or (-1, -1)."""
    zone = k.pgdat.zone
    free_order = zone.free_order
    order = 0
    while order < len(zone.free_area):
        head = pfn & ~((1 << order) - 1)
        node = head - zone.zone_start_pfn
        if 0 <= node < len(free_order) and free_order[node] == order:
            return head, order
        order += 1
    return -1, -1


def _pgd_owner(k: Kernel, pfn: int) -> MmStruct | None:
    for mm in k.mm_registry.mms.values():
        if mm.pgd == pfn:
            return mm
    return None


def _page_table_range(k: Kernel, mm: MmStruct, pt_pfn: int) -> str:
    """The user addresses a page-table frame maps, found through its mm's directory."""
    i = vl_pde_slot_of(k.machine.mem, mm.pgd, pt_pfn)
    if i < 0:
        return "not linked from its directory"
    start = i << PGDIR_SHIFT
    return f"{start:#010x}-{start + (1 << PGDIR_SHIFT):#010x} (pde {i})"


def frame_role(k: Kernel, pfn: int) -> str:
    """One line saying what the frame is used for."""
    page = k.mem_map.pages[pfn]
    if pfn == k.zero_page.pfn:
        return "empty_zero_page: every anonymous read fault maps it"
    owner = k.mm_registry.pt_owner.get(pfn)
    if owner is not None:
        mm = k.mm_registry.mms.get(owner)
        where = _page_table_range(k, mm, pfn) if mm is not None else "?"
        return f"page table of mm #{owner} [{mm_tasks(k, owner)}], maps {where}"
    mm = _pgd_owner(k, pfn)
    if mm is not None:
        return f"page directory of mm #{mm.mm_id} [{mm_tasks(k, mm.mm_id)}]"
    state = vl_frame_state(page)
    if state == FS_FREE:
        head, order = _free_block(k, pfn)
        if head >= 0:
            return f"free: in the order-{order} buddy block at pfn {head:#x}"
        return "free"
    if page.flags & M_reserved and page.mapping is None:
        return "reserved: the kernel image and boot-time memory"
    if PageSwapCache(page):
        return f"swap cache: {vl_swap_entry_text(page_swp_entry(k, page))}"
    if isinstance(page.mapping, AnonVma):
        return f"anonymous memory of anon_vma #{page.mapping.anon_vma_id}"
    if isinstance(page.mapping, AnonMm):
        return (f"anonymous memory at {page.index:#010x}, first mapped by the mm of anonmm "
                f"#{page.mapping.anonmm_id}")
    if PageAnon(page):
        return "anonymous memory (pte chains: page->mapping is NULL)"
    if isinstance(page.mapping, AddressSpace):
        host = page.mapping.host
        return f"page cache of inode {host} ({_inode_path(k, host)}), index {page.index}"
    return "allocated by the kernel, no mapping"


def _rmap_entry(k: Kernel, vma: VmArea, address: int) -> RmapEntry:
    mm = k.mm_registry.mms.get(vma.vm_mm)
    ptep = -1
    pte = 0
    if mm is not None and address >= 0:
        walk = vl_page_walk(k.machine.mem, mm.pgd, address)
        ptep = walk.pte_addr
        pte = walk.pte
    return RmapEntry(
        vma.vma_id, vma.vm_mm, mm_tasks(k, vma.vm_mm), vma.vm_start, vma.vm_end, address,
        ptep, pte,
    )


def page_rmap(k: Kernel, pfn: int) -> tuple[str, tuple[RmapEntry, ...]]:
    """The reverse map of a frame: a heading and every VMA the rmap walk would visit.

    For an anonymous page the VMAs come from its anon_vma, for a file page from the file's
    ``i_mmap`` and ``i_mmap_shared`` lists: the walk page_referenced and try_to_unmap make.
    The pte-chain profiles keep the ptes in the page instead (``_pte_chain_rmap``).
    """
    page = k.mem_map.pages[pfn]
    if k.cfg.rmap == "pte_chain":
        return _pte_chain_rmap(k, pfn)
    mapping = page.mapping
    vids: list[int]
    if isinstance(mapping, AnonMm):
        return _anonmm_rmap(k, page.index, page._mapcount, mapping)
    if isinstance(mapping, AnonVma):
        vids = list(mapping.head)
        head = (f"anon_vma #{mapping.anon_vma_id}: {len(vids)} vma(s), "
                f"index {page.index:#x}, mapcount {page._mapcount}")
    elif isinstance(mapping, AddressSpace):
        vids = mapping.i_mmap + mapping.i_mmap_shared
        head = (f"file {_inode_path(k, mapping.host)} (inode {mapping.host}), index "
                f"{page.index}: {len(vids)} vma(s) on i_mmap, mapcount {page._mapcount}")
    else:
        return ("no reverse map (not a mapped anonymous or file page)", ())
    entries: list[RmapEntry] = []
    for vid in vids:
        vma = k.mm_registry.vmas.get(vid)
        if vma is not None:
            entries.append(_rmap_entry(k, vma, vma_address(page, vma)))
    return head, tuple(entries)


def _anonmm_rmap(
    k: Kernel, address: int, mapcount: int, first: AnonMm
) -> tuple[str, tuple[RmapEntry, ...]]:
    """The anonmm walk: the page's own mm, then the rest of its bundle, all at one address
    (the vma shown is the one covering it, if any)."""
    from kernelmodel.mm.rmap_anonmm import am_walk_order

    entries: list[RmapEntry] = []
    bundle = [first, *am_walk_order(k, first)]
    for am in bundle:
        mm = k.mm_registry.mms.get(am.mm)
        if mm is None:
            continue
        vma = next((v for v in mm.mmap if v.vm_start <= address < v.vm_end), None)
        if vma is not None:
            entries.append(_rmap_entry(k, vma, address))
    head = (f"anonmm #{first.anonmm_id}: bundle of {len(bundle)} mm(s), address "
            f"{address:#010x}, mapcount {mapcount}")
    return head, tuple(entries)


def _pte_chain_rmap(k: Kernel, pfn: int) -> tuple[str, tuple[RmapEntry, ...]]:
    """The per-page reverse map of the pte-chain profiles (2.6.5, 2.6.6): pte.direct or the
    chain, as far as the page says; the chain's own structure belongs to the rmap module."""
    page = k.mem_map.pages[pfn]
    if page.flags & M_direct:
        return (f"{k.cfg.rmap}: PageDirect, pte.direct = {page.pte_direct:#010x}, "
                f"mapcount {page._mapcount}", ())
    if page.pte_chain is not None:
        return (f"{k.cfg.rmap}: {page.pte_chain!r}, mapcount {page._mapcount}", ())
    return (f"{k.cfg.rmap}: no ptes recorded for this page", ())


def page_info(k: Kernel, pfn: int) -> PageInfo:
    """struct page of ``pfn`` with its flags by name, role and reverse map."""
    page = k.mem_map.pages[pfn]
    release = k.cfg.release
    private = f"{page.private:#x}"
    index = f"{page.index:#x} ({page.index})"
    if PageSwapCache(page):
        if vl_swapcache_by_mapping(k):
            index += f" = {vl_swap_entry_text(page.index)}"
        else:
            private += f" = {vl_swap_entry_text(page.private)}"
    fields = (
        ("pfn", f"{pfn:#x} ({pfn})  phys {pfn << PAGE_SHIFT:#010x}"),
        ("flags", f"{page.flags:#010x}"),
        ("_count", str(page._count)),
        ("_mapcount", str(page._mapcount)),
        ("mapping", mapping_text(k, page.mapping)),
        ("index", index),
        ("private", private),
        ("lru", _lru_text(page.lru)),
    )
    head, entries = page_rmap(k, pfn)
    return PageInfo(
        pfn,
        FRAME_STATE_NAMES[vl_frame_state(page)],
        frame_role(k, pfn),
        fields,
        page.flags,
        tuple(vl_flag_names(page.flags, release)),
        head,
        entries,
    )


def hexdump(data: bytes, max_lines: int = 256, per_line: int = 16) -> list[str]:
    """``hexdump -C``-style lines; a run of identical lines after the first is one "*".

    Args:
        data: the bytes (a frame).
        max_lines: stop after this many output lines, with a last "..." line.
        per_line: bytes per line (16, or 8 for narrow panes).
    """
    out: list[str] = []
    prev = b""
    starred = False
    half = per_line // 2 * 3
    for off in range(0, len(data), per_line):
        chunk = data[off:off + per_line]
        if chunk == prev:
            if not starred:
                out.append("*")
                starred = True
            continue
        starred = False
        prev = chunk
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{off:03x}  {hexes[:half - 1]}  {hexes[half:]}  |{text}|")
        if len(out) >= max_lines:
            out.append("...")
            return out
    out.append(f"{len(data):03x}")
    return out


def frame_bytes(k: Kernel, pfn: int) -> bytes:
    """A copy of the frame's 4 KiB."""
    return k.machine.mem.frame_bytes(pfn)


# ---- tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    """One line of the task table."""

    pid: int
    name: str
    state: str
    what: str
    rss: int
    min_flt: int
    maj_flt: int
    cpu_ns: int
    kthread: bool


def task_state_word(task: Task) -> str:
    """running/runnable, or the sleeping state's name."""
    if task.state == TASK_RUNNING:
        return "runnable"
    return task.state_name()


def page_name(k: Kernel, pfn: int) -> str:
    """A page in words: "log:12 (pfn 0x5d)" for a file page, else its kind and pfn."""
    if not 0 <= pfn < k.mem_map.nframes:
        return f"pfn {pfn:#x}"
    page = k.mem_map.pages[pfn]
    if isinstance(page.mapping, AddressSpace):
        return f"{_inode_path(k, page.mapping.host)}:{page.index} (pfn {pfn:#x})"
    if PageSwapCache(page):
        return f"swap cache page (pfn {pfn:#x})"
    if PageAnon(page):
        return f"anonymous page (pfn {pfn:#x})"
    return f"pfn {pfn:#x}"


def wait_text(k: Kernel, task: Task) -> str:
    """What the task is blocked on, with a page's wait key named by file and index.

    "fsync: waiting on page 93 writeback" becomes "fsync: waiting on writeback of
    log:12 (pfn 0x5d)".
    """
    text = task.describe_wait()
    key = task.wait_key
    parts = key.split()
    if len(parts) == 3 and parts[0] == "page" and parts[1].isdigit() \
            and parts[2] in ("writeback", "locked"):
        what = "writeback" if parts[2] == "writeback" else "the lock"
        text = text.replace(f"waiting on {key}",
                            f"waiting on {what} of {page_name(k, int(parts[1]))}")
    return text


def task_rows(k: Kernel) -> list[TaskRow]:
    """Every task, in pid order."""
    rows: list[TaskRow] = []
    for pid in sorted(k.tasks):
        t = k.tasks[pid]
        mm = k.mm_registry.mms.get(t.mm_id)
        what = "" if t.state == TASK_RUNNING and not t.kstack else wait_text(k, t)
        if t.state == TASK_RUNNING and t.kstack:
            what = f"in {t.kstack[vl_outermost_caller(t.kstack)].describe()}"
        rows.append(TaskRow(
            pid, t.name, task_state_word(t), what, mm.rss if mm is not None else 0,
            t.min_flt, t.maj_flt, t.cpu_ns, (t.flags & PF_KTHREAD) != 0,
        ))
    return rows


@dataclass(frozen=True)
class VmaRow:
    """One VMA of a task."""

    vma_id: int
    vm_start: int
    vm_end: int
    perms: str
    pgoff: int
    backing: str


def vma_perms(vm_flags: int) -> str:
    """"rw-p" as /proc/PID/maps prints it (plus " locked")."""
    return vl_vma_perms(vm_flags) + (" locked" if vm_flags & VM_LOCKED else "")


def task_vmas(k: Kernel, pid: int) -> list[VmaRow]:
    """The task's VMAs in address order ([] for a kernel thread or an unknown pid)."""
    task = k.tasks.get(pid)
    if task is None:
        return []
    mm = k.mm_registry.mms.get(task.mm_id)
    if mm is None:
        return []
    rows: list[VmaRow] = []
    for vma in mm.mmap:
        if vma.vm_file >= 0:
            backing = f"file {_inode_path(k, vma.vm_file)}"
        elif vma.anon_vma >= 0:
            backing = f"anon (anon_vma #{vma.anon_vma})"
        elif k.cfg.rmap == "anon_vma":
            backing = "anon (no anon_vma yet)"
        else:
            backing = "anon"
        rows.append(VmaRow(vma.vma_id, vma.vm_start, vma.vm_end, vma_perms(vma.vm_flags),
                           vma.vm_pgoff, backing))
    return rows


@dataclass(frozen=True)
class WalkResult:
    """A page-table walk of one address in one task's address space."""

    lines: tuple[str, ...]
    frame: int


def page_walk(k: Kernel, pid: int, vaddr: int) -> WalkResult:
    """Walk ``vaddr`` through the task's page directory and table, as the MMU would.

    Reads memory only: no accessed/dirty bit is set and the TLB is not consulted for the
    walk. The TLB entry is shown when the task's mm is the one loaded in CR3.

    Returns:
        The lines to show and the frame the address maps to (-1 when none).
    """
    task = k.tasks.get(pid)
    mm = k.mm_registry.mms.get(task.mm_id) if task is not None else None
    if task is None or mm is None:
        return WalkResult(("no address space (kernel thread or exited task)",), -1)
    walk = vl_page_walk(k.machine.mem, mm.pgd, vaddr)
    vaddr = walk.vaddr
    pde = walk.pde
    lines = [
        f"address {vaddr:#010x} = pde {pgd_index(vaddr)} | pte {pte_index(vaddr)} | offset "
        f"{vaddr & 0xFFF:#05x}",
        f"CR3 of mm #{mm.mm_id}: page directory at frame {mm.pgd:#x}",
        f"PDE @ {walk.pde_addr:#010x} = {pde:#010x}  "
        + (f"-> table {pte_pfn(pde):#x} [{pte_bits_text(pde)}]" if walk.pte_addr >= 0
           else "not present"),
    ]
    if walk.pte_addr >= 0:
        lines.append(f"PTE @ {walk.pte_addr:#010x} = {walk.pte:#010x}  -> {pte_text(walk.pte)}")
        if walk.frame >= 0:
            lines.append(f"physical address {walk.paddr:#010x}")
    lines.append(_tlb_line(k, mm, vaddr))
    return WalkResult(tuple(lines), walk.frame)


def _tlb_line(k: Kernel, mm: MmStruct, vaddr: int) -> str:
    if k.mm_registry.active_mm != mm.mm_id:
        return "TLB: this mm is not loaded in CR3 (its entries were flushed at the switch)"
    entry = k.machine.mmu.tlb_entry(vaddr)
    if entry is None:
        return "TLB: no entry for this page"
    pfn, flags = entry
    return f"TLB: frame {pfn:#x} [{pte_bits_text(flags)}]"


def parse_address(text: str) -> int:
    """A user-typed address: hex with or without 0x, or decimal with a leading '#'.

    Raises:
        ValueError: not an address below 4 GiB.
    """
    t = text.strip().replace("_", "").lower()
    if not t:
        raise ValueError("type an address, e.g. 0x40000000")
    value = int(t[1:], 10) if t.startswith("#") else int(t, 16)
    if value < 0 or value > 0xFFFFFFFF:
        raise ValueError("an i386 address is below 0x100000000")
    return value

