"""The data oracle for process memory: what every written user page must hold (no kernel
counterpart, so no release; the model's ground truth, never read by kernel code to make a decision).

The CPU reports every completed user store (``oracle_note_store``). The oracle keeps, per mm,
the expected contents of each private page that was ever stored to (anonymous memory and
private file pages after their copy-on-write), keyed by virtual page number, as a
``VlOraclePage`` (oracle_page.py): a description of the stores that reached it (a write
touch's stamps over a page of zeros, a few ints) while one fits, else 1024 u32 words in an
``array('I')`` in host byte order (one 4 KiB buffer, not a list of int objects: cheap to
copy, serialise and compare, and invisible to the cyclic garbage collector); ``to_bytes``
gives the little-endian form on every host. So the oracle of a task that touches its memory
page by page holds tens of bytes per page, not a second copy of the memory.

Stores into shared file mappings are file data: they go to the file oracle (oracle.py:
``oracle_file_write``), bytes past the end of the file excepted (they are not file data).

fork copies an mm's table of pages, not the pages: both mms share each ``VlOraclePage`` with a
reference count, and the first store through either copies it (copy-on-write, like the
memory it mirrors). munmap and exit forget the pages of the range or mm.

In a snapshot, a described page is its description; a page held in full that its frame or
swap slot holds exactly is named by that place instead of its bytes (oracle_place.py).

``vl_verify_memory`` finds each expected page through the page tables, as the MMU would: a
present pte gives the frame; a swap pte gives the swap-cache page if it is uptodate, else the
slot on the disk; no pte means the data was lost. It also checks that present pages of
anonymous memory nobody stored to hold zeros (ZERO_PAGE included), and that unwritten pages
of private file mappings match the file.

Invariants:
    * an expected page exists only inside a private vma of its mm;
    * ``VlOraclePage.refs`` is the number of (mm, vpn) slots that hold the page.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Final, final

from kernelmodel.include.mm_types import VM_SHARED, MmStruct, VmArea
from kernelmodel.include.page import PageUptodate
from kernelmodel.kernel.vl_data_hooks import VlMmOracleHooks
from kernelmodel.mm.pgtable import (
    pte_file,
    pte_offset_map,
    pte_pfn,
    pte_present,
    pte_to_swp_entry,
)
from kernelmodel.mm.swap_state import vl_swapper_lookup
from kernelmodel.mm.swapfile import vl_entry_sector
from kernelmodel.oracle.oracle_page import (
    HOST_BIG_ENDIAN,
    STROKE_INTS,
    VlOraclePage,
    vl_check_strokes,
    vl_words_from_bytes,
)
from kernelmodel.oracle.oracle_place import (
    LOC_DISK,
    LOC_FRAME,
    LOC_NONE,
    PAGE_SECTORS,
    vl_disk_place,
    vl_frame_place,
    vl_place_pairs,
)
from machine.i386 import PAGE_SHIFT, PAGE_SIZE
from machine.state_read import read_int_list, read_list

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task
    from machine.disk import Disk
    from machine.physmem import PhysicalMemory

#: How error messages name this state.
_WHAT: Final = "mm oracle state"
#: How many problem descriptions verification keeps in ``log``.
LOG_MAX: Final = 64
_ZERO_PAGE_BYTES: Final = bytes(PAGE_SIZE)


@final
class VlMmOracle(VlMmOracleHooks):
    """Expected private user memory of every mm (no kernel counterpart).

    Attributes:
        mms: mm id -> virtual page number -> expected page.
        next_page_id: serial numbers of pages (so shared pages serialise once).
        stores: user stores reported; file_stores: those that went to the file oracle.
        load_mismatches: checked user loads that read an unexpected value.
        log: the first LOG_MAX load-mismatch descriptions.
        hot_mm, hot_vpn, hot_page: the last page stored to through the fast path (a cache;
            when valid, ``hot_page is mms[hot_mm][hot_vpn]``; otherwise None and -1, -1).
    """

    # state context: mem: PhysicalMemory from machine.physmem; disk: Disk from machine.disk
    # state save context: k: Kernel from kernelmodel.kernel.kernel
    def __init__(self) -> None:
        self.mms: dict[int, dict[int, VlOraclePage]] = {}  # state: custom
        self.next_page_id: int = 1  # state
        self.stores: int = 0  # state
        self.file_stores: int = 0  # state
        self.load_mismatches: int = 0  # state
        self.log: list[str] = []  # state
        self.hot_mm: int = -1  # state
        self.hot_vpn: int = -1  # state
        self.hot_page: VlOraclePage | None = None

    # The kernel's hooks (kernel/vl_data_hooks.py): each is the module function below.
    def note_store(self, k: Kernel, task: Task, vaddr: int, value: int) -> None:
        oracle_note_store(k, task, vaddr, value)

    def note_store_run(
        self, k: Kernel, task: Task, vaddr: int, stride: int, values: array[int]
    ) -> None:
        oracle_note_store_run(k, task, vaddr, stride, values)

    def note_load_mismatch(
        self, k: Kernel, task: Task, vaddr: int, expected: int, got: int
    ) -> None:
        oracle_note_load_mismatch(k, task, vaddr, expected, got)

    def mm_fork(self, k: Kernel, parent_mm: int, child_mm: int) -> None:
        vl_oracle_fork(k, parent_mm, child_mm)

    def mm_unmap(self, k: Kernel, mm_id: int, start: int, end: int) -> None:
        vl_oracle_unmap(k, mm_id, start, end)

    def mm_exit(self, k: Kernel, mm_id: int) -> None:
        vl_oracle_exit(k, mm_id)

    def verify(self, k: Kernel) -> list[str]:
        return vl_verify_memory(k)

    def hot_clear(self) -> None:
        """Forget the fast path's cached page (tables are about to change)."""
        self.hot_mm = -1
        self.hot_vpn = -1
        self.hot_page = None

    def new_page(self, words: array[int] | None) -> VlOraclePage:
        """A page with the next id: ``words`` in full, or (None) described, zeros so far."""
        p = VlOraclePage(self.next_page_id, words)
        self.next_page_id += 1
        return p

    def copy_page(self, page: VlOraclePage) -> VlOraclePage:
        """A private copy of a shared page, with the next id."""
        p = page.copy(self.next_page_id)
        self.next_page_id += 1
        return p

    def vl_save_mms(self, out: dict[str, object], k: Kernel) -> None:
        """Pages once each (by page id), and each mm's vpn -> page id table.

        A described page is its strokes: ``described`` is flat, [page id, number of
        strokes, the strokes' ints ...] per page. A page held in full whose bytes are exactly
        those its first (mm, vpn) slot finds through the page tables (``vl_page_location``: a
        RAM frame, or the swap slot on the disk) is stored as that place, not as bytes
        (oracle_place.py).
        """
        pages: dict[int, VlOraclePage] = {}
        described: list[int] = []
        in_frame: list[int] = []
        on_disk: list[int] = []
        literal: list[int] = []
        tables: list[list[int]] = []
        mms = k.mm_registry.mms
        mem = k.machine.mem
        for mm_id, table in self.mms.items():
            flat = [mm_id]
            mm = mms.get(mm_id)
            for vpn, page in table.items():
                flat.append(vpn)
                flat.append(page.page_id)
                if page.page_id in pages:
                    continue
                pages[page.page_id] = page
                if page.words is None:
                    described.append(page.page_id)
                    described.append(len(page.strokes) // STROKE_INTS)
                    described.extend(page.strokes)
                    continue
                kind, where = _location(k, mm, vpn << PAGE_SHIFT)
                if kind == LOC_FRAME and mem.frame_equals(where, page.le_buffer()):
                    in_frame.append(page.page_id)
                    in_frame.append(where)
                elif kind == LOC_DISK and \
                        k.machine.disk.read_sectors(where, PAGE_SECTORS) == page.to_bytes():
                    on_disk.append(page.page_id)
                    on_disk.append(where)
                else:
                    literal.append(page.page_id)
            tables.append(flat)
        out["page_ids"] = literal
        out["page_data"] = [pages[i].to_bytes() for i in literal]
        out["in_frame"] = in_frame
        out["on_disk"] = on_disk
        out["described"] = described
        out["tables"] = tables

    def to_state(self, k: Kernel) -> dict[str, object]:
        """``save_vl_mm_oracle``: the kernel saves its oracle through the hooks' interface."""
        from kernelmodel.oracle.state_generated import save_vl_mm_oracle

        return save_vl_mm_oracle(self, k)

    def vl_load_mms(self, state: dict[str, object], mem: PhysicalMemory, disk: Disk) -> None:
        """The tables of ``vl_save_mms``, restoring the sharing and reference counts.

        Pages stored as a place are read from ``mem`` and ``disk``, which must already hold
        the restored machine's contents.
        """
        ids = read_list(state, "page_ids", _WHAT)
        data = read_list(state, "page_data", _WHAT)
        if len(ids) != len(data):
            raise ValueError("mm oracle state: page_ids and page_data differ in length")
        by_id: dict[int, VlOraclePage] = {}
        for i in range(len(ids)):
            raw = data[i]
            if not isinstance(raw, bytes) or len(raw) != PAGE_SIZE:
                raise ValueError("mm oracle state: bad page entry")
            _add_page(by_id, ids[i], vl_words_from_bytes(raw))
        ram = memoryview(mem.mem)
        try:
            for pid, pfn in vl_place_pairs(state, "in_frame", _WHAT):
                off = vl_frame_place(mem, pfn, _WHAT)
                # straight from RAM into the page's array: one copy
                words = array("I")
                words.frombytes(ram[off : off + PAGE_SIZE])
                if HOST_BIG_ENDIAN:
                    words.byteswap()
                _add_page(by_id, pid, words)
        finally:
            ram.release()
        for pid, sector in vl_place_pairs(state, "on_disk", _WHAT):
            _add_page(by_id, pid, vl_words_from_bytes(vl_disk_place(disk, sector, _WHAT)))
        described = read_int_list(state, "described", _WHAT)
        i = 0
        while i < len(described):
            n = described[i + 1] if i + 1 < len(described) else -1
            end = i + 2 + n * STROKE_INTS
            if n < 0 or end > len(described):
                raise ValueError("mm oracle state: described is [page id, n, strokes ...]")
            strokes = described[i + 2 : end]
            vl_check_strokes(strokes, _WHAT)
            _add_page(by_id, described[i], None).strokes = strokes
            i = end
        for flat in read_list(state, "tables", _WHAT):
            _load_table(self, flat, by_id)
        if any(page.refs == 0 for page in by_id.values()):
            raise ValueError("mm oracle state: a stored page is in no table")

    def vl_check_state(self) -> None:
        """Every page id is below ``next_page_id``; the fast path's cached page is found
        again from ``hot_mm`` and ``hot_vpn`` (and forgotten when the tables lack it)."""
        for table in self.mms.values():
            for page in table.values():
                if page.page_id >= self.next_page_id:
                    raise ValueError("mm oracle state: a page id is not below next_page_id")
        hot_table = self.mms.get(self.hot_mm)
        self.hot_page = hot_table.get(self.hot_vpn) if hot_table is not None else None
        if self.hot_page is None:
            self.hot_clear()


def _add_page(by_id: dict[int, VlOraclePage], pid: object,
              words: array[int] | None) -> VlOraclePage:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise ValueError("mm oracle state: page ids must be positive ints")
    if pid in by_id:
        raise ValueError(f"mm oracle state: page {pid} is stored twice")
    page = VlOraclePage(pid, words)
    page.refs = 0
    by_id[pid] = page
    return page


def _load_table(o: VlMmOracle, flat: object, by_id: dict[int, VlOraclePage]) -> None:
    if not isinstance(flat, list) or len(flat) % 2 != 1:
        raise ValueError("mm oracle state: a table is [mm_id, vpn, page_id, ...]")
    mm_id = flat[0]
    if not isinstance(mm_id, int):
        raise ValueError("mm oracle state: mm id must be an int")
    table: dict[int, VlOraclePage] = {}
    i = 1
    while i < len(flat):
        vpn = flat[i]
        pid = flat[i + 1]
        if not isinstance(vpn, int) or not isinstance(pid, int) or pid not in by_id:
            raise ValueError("mm oracle state: bad table entry")
        page = by_id[pid]
        page.refs += 1
        table[vpn] = page
        i += 2
    o.mms[mm_id] = table


# ---- recording ---------------------------------------------------------------------------------


def vl_mm_oracle(k: Kernel) -> VlMmOracle:
    """The kernel's user-memory oracle, as the oracle itself (the kernel holds it as hooks)."""
    o = k.mm_oracle
    assert isinstance(o, VlMmOracle)
    return o


def oracle_note_store(k: Kernel, task: Task, vaddr: int, value: int) -> None:
    """A user store of the u32 ``value`` at ``vaddr`` completed (the CPU reports each one).

    Caller: the kernel's note_store trap hook, for the current task.
    """
    o = vl_mm_oracle(k)
    o.stores += 1
    if (vaddr & 3) == 0:
        vpn = vaddr >> PAGE_SHIFT
        page = o.hot_page
        if page is None or o.hot_vpn != vpn or o.hot_mm != task.mm_id:
            table = o.mms.get(task.mm_id)
            page = table.get(vpn) if table is not None else None
        if page is not None and page.refs == 1:
            page.store((vaddr & 0xFFF) >> 2, value)
            o.hot_mm = task.mm_id
            o.hot_vpn = vpn
            o.hot_page = page
            return
        _store_word(k, o, task.mm_id, vaddr, value)
        return
    i = 0
    while i < 4:
        _store_byte(k, o, task.mm_id, (vaddr + i) & 0xFFFFFFFF, (value >> (8 * i)) & 0xFF)
        i += 1


def oracle_note_store_run(
    k: Kernel, task: Task, vaddr: int, stride: int, values: array[int]
) -> None:
    """``len(values)`` user stores of one touch run in one page, the i-th at
    ``vaddr + i * stride``: what as many oracle_note_store calls record, with one lookup and
    one slice copy once the page is the mm's own.

    Caller: the kernel's note_store_run trap hook; ``vaddr`` and ``stride`` are multiples of 4.
    """
    o = vl_mm_oracle(k)
    n = len(values)
    if n == 0:
        return
    vpn = vaddr >> PAGE_SHIFT
    mm_id = task.mm_id
    page = o.hot_page
    if page is None or o.hot_vpn != vpn or o.hot_mm != mm_id:
        table = o.mms.get(mm_id)
        page = table.get(vpn) if table is not None else None
    done = 0
    if page is None or page.refs != 1:
        # the first store makes the mm's own copy (or is file data: then store one by one)
        oracle_note_store(k, task, vaddr, values[0])
        done = 1
        table = o.mms.get(mm_id)
        page = table.get(vpn) if table is not None else None
        if page is None or page.refs != 1:
            v = vaddr + stride
            while done < n:
                oracle_note_store(k, task, v, values[done])
                v += stride
                done += 1
            return
    if done == n:
        return
    step = stride >> 2
    first = ((vaddr & 0xFFF) >> 2) + done * step
    page.store_run(first, step, values[done:] if done else values)
    o.stores += n - done
    o.hot_mm = mm_id
    o.hot_vpn = vpn
    o.hot_page = page


def oracle_note_load_mismatch(k: Kernel, task: Task, vaddr: int, expected: int, got: int) -> None:
    """A checked user load read ``got`` where the program expected ``expected``."""
    o = vl_mm_oracle(k)
    o.load_mismatches += 1
    if len(o.log) < LOG_MAX:
        o.log.append(f"load pid {task.pid} vaddr {vaddr:#x}: expected {expected:#x}, got {got:#x}")


def _vma_of(k: Kernel, mm_id: int, vaddr: int) -> VmArea | None:
    from kernelmodel.mm.memory import find_vma

    mm = k.mm_registry.mms.get(mm_id)
    if mm is None:
        return None
    vma = find_vma(mm, vaddr)
    if vma is None or vma.vm_start > vaddr:
        return None
    return vma


def _private_page(k: Kernel, o: VlMmOracle, mm_id: int, vma: VmArea, vpn: int) -> VlOraclePage:
    """The mm's own (unshared) expected page at ``vpn``, created on the first store: zeros
    for anonymous memory (described), the file's bytes (at the time of the copy) for a
    private file mapping."""
    table = o.mms.get(mm_id)
    if table is None:
        table = {}
        o.mms[mm_id] = table
    page = table.get(vpn)
    if page is None:
        page = o.new_page(_initial_words(k, vma, vpn))
        table[vpn] = page
    elif page.refs > 1:
        page.refs -= 1
        page = o.copy_page(page)
        table[vpn] = page
    return page


def _initial_words(k: Kernel, vma: VmArea, vpn: int) -> array[int] | None:
    if vma.vm_file < 0:
        return None
    from kernelmodel.oracle.oracle import oracle_file_expected

    index = vpn - (vma.vm_start >> PAGE_SHIFT) + vma.vm_pgoff
    return vl_words_from_bytes(oracle_file_expected(k, vma.vm_file, index))


def _store_word(k: Kernel, o: VlMmOracle, mm_id: int, vaddr: int, value: int) -> None:
    """An aligned u32 store that missed the fast path."""
    vma = _vma_of(k, mm_id, vaddr)
    if vma is None:
        return
    if vma.vm_file >= 0 and (vma.vm_flags & VM_SHARED):
        _file_store(k, o, vma, vaddr, value.to_bytes(4, "little"))
        return
    page = _private_page(k, o, mm_id, vma, vaddr >> PAGE_SHIFT)
    page.store((vaddr & 0xFFF) >> 2, value)


def _store_byte(k: Kernel, o: VlMmOracle, mm_id: int, vaddr: int, b: int) -> None:
    """One byte of an unaligned store."""
    vma = _vma_of(k, mm_id, vaddr)
    if vma is None:
        return
    if vma.vm_file >= 0 and (vma.vm_flags & VM_SHARED):
        _file_store(k, o, vma, vaddr, bytes((b,)))
        return
    words = _private_page(k, o, mm_id, vma, vaddr >> PAGE_SHIFT).materialize()
    w = (vaddr & 0xFFF) >> 2
    shift = 8 * (vaddr & 3)
    words[w] = (words[w] & ~(0xFF << shift)) | (b << shift)


def _file_store(k: Kernel, o: VlMmOracle, vma: VmArea, vaddr: int, data: bytes) -> None:
    """A store into a shared file mapping: file data up to the file's size."""
    from kernelmodel.oracle.oracle import oracle_file_size, oracle_file_write

    offset = ((vaddr - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT))
    size = oracle_file_size(k, vma.vm_file)
    n = len(data)
    if offset + n > size:
        n = size - offset
    if n <= 0:
        return
    o.file_stores += 1
    oracle_file_write(k, vma.vm_file, offset, data[:n], True)


# ---- fork, munmap, exit -------------------------------------------------------------------------


def vl_oracle_fork(k: Kernel, parent_mm: int, child_mm: int) -> None:
    """fork: the child expects what the parent expects, sharing each page until a store."""
    o = vl_mm_oracle(k)
    o.hot_clear()
    table = o.mms.get(parent_mm)
    if table is None:
        return
    for page in table.values():
        page.refs += 1
    o.mms[child_mm] = dict(table)


def vl_oracle_unmap(k: Kernel, mm_id: int, start: int, end: int) -> None:
    """munmap: forget the expected pages of [start, end)."""
    o = vl_mm_oracle(k)
    o.hot_clear()
    table = o.mms.get(mm_id)
    if table is None:
        return
    first = start >> PAGE_SHIFT
    last = end >> PAGE_SHIFT
    if last - first < len(table):
        vpn = first
        while vpn < last:
            page = table.pop(vpn, None)
            if page is not None:
                page.refs -= 1
            vpn += 1
        return
    for vpn in list(table):
        if first <= vpn < last:
            table.pop(vpn).refs -= 1


def vl_oracle_exit(k: Kernel, mm_id: int) -> None:
    """The mm is gone: forget its expected pages."""
    o = vl_mm_oracle(k)
    o.hot_clear()
    table = o.mms.pop(mm_id, None)
    if table is None:
        return
    for page in table.values():
        page.refs -= 1


# ---- verification -------------------------------------------------------------------------------


def vl_page_location(k: Kernel, mm: MmStruct, vaddr: int) -> tuple[int, int]:
    """Where user page ``vaddr`` of ``mm`` holds its data, found as the hardware and the swap
    code would: a present pte gives the frame; a swap pte gives the swap-cache page if it is
    uptodate, else the slot on the disk.

    Returns:
        (LOC_FRAME, pfn), (LOC_DISK, sector) or (LOC_NONE, 0). Reads only: no TLB, no
        accessed bits, no counters.
    """
    mem = k.machine.mem
    ptep = pte_offset_map(mem, mm.pgd, vaddr)
    if ptep < 0:
        return LOC_NONE, 0
    pte = mem.read_u32(ptep)
    if pte == 0 or (not pte_present(pte) and pte_file(pte)):
        return LOC_NONE, 0
    if pte_present(pte):
        return LOC_FRAME, pte_pfn(pte)
    entry = pte_to_swp_entry(pte)
    page = vl_swapper_lookup(k, entry)
    if page is not None and PageUptodate(page):
        return LOC_FRAME, page.pfn
    return LOC_DISK, vl_entry_sector(k, entry)


def _location(k: Kernel, mm: MmStruct | None, vaddr: int) -> tuple[int, int]:
    return (LOC_NONE, 0) if mm is None else vl_page_location(k, mm, vaddr)


def vl_page_bytes_at(k: Kernel, mm: MmStruct, vaddr: int) -> bytes | None:
    """What user page ``vaddr`` holds (``vl_page_location``'s place, read).

    Returns:
        The 4096 bytes; None when no pte maps it (or it is a nonlinear file pte).
    """
    kind, where = vl_page_location(k, mm, vaddr)
    if kind == LOC_FRAME:
        return k.machine.mem.frame_bytes(where)
    if kind == LOC_DISK:
        return k.machine.disk.read_sectors(where, PAGE_SECTORS)
    return None


def _first_diff(a: bytes, b: bytes) -> int:
    i = 0
    n = len(a)
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _check_expected(
    k: Kernel, mm: MmStruct, table: dict[int, VlOraclePage], out: list[str]
) -> None:
    from kernelmodel.mm.memory import find_vma

    for vpn, page in table.items():
        vaddr = vpn << PAGE_SHIFT
        vma = find_vma(mm, vaddr)
        if vma is None or vma.vm_start > vaddr or (vma.vm_file >= 0 and vma.vm_flags & VM_SHARED):
            out.append(f"mm {mm.mm_id} {vaddr:#010x}: expected page outside a private vma")
            continue
        kind, where = vl_page_location(k, mm, vaddr)
        if kind == LOC_FRAME and k.machine.mem.frame_equals(where, page.le_buffer()):
            continue  # the common case, compared in place
        got = vl_page_bytes_at(k, mm, vaddr)
        if got is None:
            out.append(f"mm {mm.mm_id} {vaddr:#010x}: written page has no pte (data lost)")
            continue
        want = page.to_bytes()
        if got != want:
            off = _first_diff(got, want)
            out.append(
                f"mm {mm.mm_id} {vaddr + off:#010x}: holds {got[off]:#04x}, "
                f"expected {want[off]:#04x}"
            )


def _check_unwritten(
    k: Kernel, mm: MmStruct, table: dict[int, VlOraclePage], out: list[str]
) -> None:
    """Pages of private vmas nobody stored to: anonymous ones hold zeros, file ones the file."""
    from kernelmodel.oracle.oracle import oracle_file_expected

    mem = k.machine.mem
    for vma in mm.mmap:
        if vma.vm_file >= 0 and (vma.vm_flags & VM_SHARED):
            continue
        vaddr = vma.vm_start
        while vaddr < vma.vm_end:
            ptep = pte_offset_map(mem, mm.pgd, vaddr)
            if ptep < 0:
                vaddr = ((vaddr >> 22) + 1) << 22
                continue
            if mem.read_u32(ptep) != 0 and (vaddr >> PAGE_SHIFT) not in table:
                got = vl_page_bytes_at(k, mm, vaddr)
                want = _ZERO_PAGE_BYTES
                if vma.vm_file >= 0:
                    index = ((vaddr - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff
                    want = oracle_file_expected(k, vma.vm_file, index)
                if got is not None and got != want:
                    off = _first_diff(got, want)
                    out.append(
                        f"mm {mm.mm_id} {vaddr + off:#010x}: unwritten page holds "
                        f"{got[off]:#04x}, expected {want[off]:#04x}"
                    )
            vaddr += PAGE_SIZE


def vl_verify_memory(k: Kernel) -> list[str]:
    """Compare every mm's user memory with the oracle; returns one line per problem."""
    out: list[str] = []
    o = vl_mm_oracle(k)
    reg = k.mm_registry
    for mm_id in o.mms:
        if mm_id not in reg.mms:
            out.append(f"mm {mm_id}: the oracle remembers a dead mm")
    for mm in reg.mms.values():
        table = o.mms.get(mm.mm_id, {})
        _check_expected(k, mm, table, out)
        _check_unwritten(k, mm, table, out)
    if o.load_mismatches:
        out.append(f"{o.load_mismatches} checked loads read unexpected values")
    return out
