"""The data oracle: what every byte of every file must hold, and what fsync promised (the
model's ground truth; no kernel counterpart or release).

No kernel counterpart: this is the model's ground truth, kept beside the kernel and never read
by kernel code to make a decision. It answers "what should the file hold here?" and the
checkers compare that with the machine (page-cache frames and disk blocks).

The file half of the oracle:
    * each file (by inode number) has a size and its expected bytes per 4 KiB page. Boot-time
      contents are described, not stored: a *base* (kind, seed, size) gives a page's bytes on
      demand (``zero``: zeros; ``pattern``: each u32 word holds its file offset xor the seed;
      ``random``: page i is SHAKE-128 of (seed, i) as two little-endian u64, 4096 bytes, so
      any page is made in microseconds). A page a write(2) covered whole is described too,
      as the write's payload seed and the page's offset in its payload stream (payload.py:
      one SHAKE-128 call regenerates it), in ``described``; other pages changed since boot
      (partial writes, stores through shared mappings, a truncated last page) are stored
      whole in ``pages``. Bytes past the size are zeros;
    * every write(2), truncate and boot-time file is recorded here in the same model step that
      changes the page cache, so ``vl_verify_files`` holds between any two events;
    * fsync acknowledgements: a global write sequence number stamps every page change. An
      fsync (or fdatasync, sync, or msync with MS_SYNC: 2.6.6's data-integrity syncs) that
      began at sequence S and completed acknowledges every page of the file whose
      last change is at or before S; after a power cut those pages must be on the disk unless
      they changed again since (``vl_verify_durable``). A store through a shared mapping
      is file data at once (the page cache frame holds it), but fsync does not look at ptes
      (2.6.6's fsync does no msync): until the kernel moves the pte's dirty bit to the page
      (msync's filemap_sync, zap at munmap/exit, try_to_unmap), the page is in
      ``mmap_pending`` and no fsync acknowledges it.

In a snapshot, a stored page that its page-cache frame or disk block holds exactly is named
by that place instead of its bytes (oracle_place.py).

The memory half (process memory) is oracle_mm.py.

Invariants:
    * ``OracleFile.pages`` and ``OracleFile.described`` have no index at or beyond the page
      holding the last byte, and no index in common;
    * each stored page is exactly 4096 bytes and zero past the file size;
    * ``OracleFile.base_size <= size``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, final

from kernelmodel.kernel.vl_data_hooks import VlFileOracleHooks

# BASE_* are the kernel's words for boot-file contents; re-exported for the oracle's users
from kernelmodel.lib.payload import BASE_PATTERN as BASE_PATTERN
from kernelmodel.lib.payload import BASE_RANDOM as BASE_RANDOM
from kernelmodel.lib.payload import BASE_ZERO as BASE_ZERO
from kernelmodel.lib.payload import (
    PAYLOAD_GENERATOR,
    PAYLOAD_GENERATORS,
    vl_payload_slice,
    vl_splitmix_slice,
)
from kernelmodel.oracle.oracle_place import vl_disk_place, vl_frame_place, vl_place_pairs
from machine.state_read import read_int_list, read_list

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from machine.disk import Disk
    from machine.physmem import PhysicalMemory

PAGE_SIZE: Final = 4096
PAGE_SHIFT: Final = 12

#: Base contents of boot-time files (BASE_ZERO, BASE_PATTERN, BASE_RANDOM: lib/payload.py).
BASE_KIND_NAMES: Final = ("zero", "pattern", "random")

#: How error messages name a file's state.
_WHAT: Final = "oracle file state"
#: How many mismatch messages are kept (the counters keep counting past it).
MISMATCH_LOG_MAX: Final = 64

_ZERO_PAGE: Final = bytes(PAGE_SIZE)
_MASK64: Final = 0xFFFFFFFFFFFFFFFF
_MASK32: Final = 0xFFFFFFFF
#: The u32 words 0, 4, 8, ... 4092 of a page as one little-endian integer: a pattern page is
#: this xor one u32 repeated (see vl_base_page), made by C big-integer operations.
_OFFSETS: Final = int.from_bytes(b"".join([w.to_bytes(4, "little")
                                            for w in range(0, PAGE_SIZE, 4)]), "little")


def vl_pattern_slice(seed: int, start: int, length: int) -> bytes:
    """Bytes ``[start, start + length)`` of the first payload generator's stream of ``seed``
    (``payload.vl_splitmix_slice``; write payloads of states that record generator 1)."""
    return vl_splitmix_slice(seed, start, length)


def vl_base_page(kind: int, seed: int, base_size: int, index: int) -> bytes:
    """The 4096 bytes of page ``index`` of a boot-time file's base contents.

    Bytes at or past ``base_size`` are zeros.
    """
    start = index << PAGE_SHIFT
    if start >= base_size or kind == BASE_ZERO:
        return _ZERO_PAGE
    valid = min(PAGE_SIZE, base_size - start)
    if kind == BASE_RANDOM:
        key = (seed & _MASK64).to_bytes(8, "little") + index.to_bytes(8, "little")
        data = hashlib.shake_128(key).digest(PAGE_SIZE)
    else:
        # word w holds (start + w) ^ seed; start has no bits below 4096, so that is
        # ((start ^ seed) & mask) ^ w: one repeated u32 xor the page's word offsets
        fill = ((start ^ seed) & _MASK32).to_bytes(4, "little") * (PAGE_SIZE // 4)
        data = (int.from_bytes(fill, "little") ^ _OFFSETS).to_bytes(PAGE_SIZE, "little")
    if valid == PAGE_SIZE:
        return data
    return data[:valid] + bytes(PAGE_SIZE - valid)


@final
class OracleFile:
    """The expected contents of one file (no kernel counterpart).

    Attributes:
        ino: the inode number.
        size: expected i_size.
        base_kind, base_seed, base_size: the boot-time contents (see module docstring).
        generator: the payload generator of the writes (``Oracle.generator``).
        pages: page index -> 4096 expected bytes, for pages changed since boot that are not
            in ``described``.
        described: page index -> (seed, stream offset): a page a write covered whole, whose
            bytes are 4096 bytes of that write's payload stream (payload.py), regenerated on
            demand instead of stored.
        page_seq: page index -> oracle sequence number of the page's last change.
        acked: page index -> the page_seq an fsync acknowledged for it.
        mmap_pending: page index -> page_seq of a shared-mapping store whose pte dirty bit has
            not reached the page yet (``oracle_pte_dirty_moved`` clears it).
    """

    # state context: mem: PhysicalMemory from machine.physmem; disk: Disk from machine.disk
    # state context: generator: int
    # state save context: k: Kernel from kernelmodel.kernel.kernel
    def __init__(self, ino: int, generator: int = PAYLOAD_GENERATOR) -> None:
        self.ino: int = ino  # state
        self.size: int = 0  # state
        self.base_kind: int = BASE_ZERO  # state
        self.base_seed: int = 0  # state
        self.base_size: int = 0  # state
        self.generator = generator
        self.pages: dict[int, bytes] = {}  # state: custom
        self.described: dict[int, tuple[int, int]] = {}  # state: custom
        self.page_seq: dict[int, int] = {}  # state: key=seq
        self.acked: dict[int, int] = {}  # state
        self.mmap_pending: dict[int, int] = {}  # state

    def expected(self, index: int) -> bytes:
        """The 4096 bytes page ``index`` must hold (zeros past the size)."""
        data = self.pages.get(index)
        if data is not None:
            return data
        recipe = self.described.get(index)
        if recipe is not None:
            return vl_payload_slice(self.generator, recipe[0], recipe[1], PAGE_SIZE)
        return vl_base_page(self.base_kind, self.base_seed, self.base_size, index)

    def forget(self, index: int) -> None:
        """Drop what page ``index`` was changed to (it is past the end now)."""
        self.pages.pop(index, None)
        self.described.pop(index, None)

    def vl_save_pages(self, out: dict[str, object], k: Kernel) -> None:
        """The changed pages. A stored page whose bytes are exactly those of the file's
        uptodate page-cache page, or else of its disk block, is stored as that place
        (oracle_place.py); ``page_index`` keeps every stored page's index in order."""
        from kernelmodel.fs.fs import BLOCK_SECTORS, I_FREEING
        from kernelmodel.include.page import PageUptodate
        from kernelmodel.mm.filemap import vl_find_page_nolock

        idx = list(self.pages)
        literal: list[bytes] = []
        in_frame: list[int] = []
        on_disk: list[int] = []
        inode = k.sb.s_inodes.get(self.ino)
        if inode is not None and inode.i_state & I_FREEING:
            inode = None
        mem = k.machine.mem
        for index in idx:
            data = self.pages[index]
            if inode is not None:
                page = vl_find_page_nolock(inode.i_mapping, index)
                if page is not None and PageUptodate(page):
                    if mem.frame_equals(page.pfn, data):
                        in_frame.append(index)
                        in_frame.append(page.pfn)
                        continue
                else:
                    block = inode.i_blocks.get(index, -1)
                    if block >= 0 and k.machine.disk.read_sectors(
                            block * BLOCK_SECTORS, BLOCK_SECTORS) == data:
                        on_disk.append(index)
                        on_disk.append(block * BLOCK_SECTORS)
                        continue
            literal.append(data)
        out["page_index"] = idx
        out["page_data"] = literal
        out["in_frame"] = in_frame
        out["on_disk"] = on_disk

    def vl_save_described(self, out: dict[str, object], k: Kernel) -> None:
        """The described pages' recipes, flat: [index, seed, stream offset, ...]."""
        out["described"] = [x for index, (seed, stream) in self.described.items()
                            for x in (index, seed, stream)]

    def vl_load_pages(self, state: dict[str, object], mem: PhysicalMemory, disk: Disk,
                      generator: int) -> None:
        """The pages of ``vl_save_pages``; those stored as a place are read from the restored
        ``mem`` and ``disk``."""
        placed: dict[int, bytes] = {}
        for index, pfn in vl_place_pairs(state, "in_frame", _WHAT):
            vl_frame_place(mem, pfn, _WHAT)
            _place(placed, index, mem.frame_bytes(pfn))
        for index, sector in vl_place_pairs(state, "on_disk", _WHAT):
            _place(placed, index, vl_disk_place(disk, sector, _WHAT))
        idx = read_list(state, "page_index", _WHAT)
        data = read_list(state, "page_data", _WHAT)
        if len(idx) != len(data) + len(placed):
            raise ValueError("oracle file state: page_index does not list each stored page once")
        literal = 0
        for item in idx:
            if not isinstance(item, int) or isinstance(item, bool) or item in self.pages:
                raise ValueError("oracle file state: bad page index")
            page = placed.get(item)
            if page is None:
                if literal >= len(data):
                    raise ValueError("oracle file state: a page has neither bytes nor place")
                raw = data[literal]
                literal += 1
                if not isinstance(raw, bytes) or len(raw) != PAGE_SIZE:
                    raise ValueError("oracle file state: bad page entry")
                page = raw
            self.pages[item] = page
        if len(self.pages) != len(idx) or literal != len(data):
            raise ValueError("oracle file state: page_index does not list each stored page once")

    def vl_load_described(self, state: dict[str, object], mem: PhysicalMemory, disk: Disk,
                          generator: int) -> None:
        """The recipes of ``vl_save_described`` (after the pages: a page is one or the other)."""
        flat = read_int_list(state, "described", _WHAT)
        if len(flat) % 3:
            raise ValueError("oracle file state: described must be [index, seed, offset, ...]")
        for i in range(0, len(flat), 3):
            at = flat[i]
            if at < 0 or flat[i + 2] < 0 or at in self.pages or at in self.described:
                raise ValueError("oracle file state: bad described page")
            self.described[at] = (flat[i + 1], flat[i + 2])


def _place(placed: dict[int, bytes], index: int, data: bytes) -> None:
    if index in placed:
        raise ValueError(f"oracle file state: page {index} has two places")
    placed[index] = data


@final
class Oracle(VlFileOracleHooks):
    """The model's ground truth about data (no kernel counterpart).

    Attributes:
        generator: the payload generator write(2) uses (payload.py): a booted kernel has the
            current one, a restored state keeps the one it recorded.
        files: inode number -> expected contents.
        seq: the sequence number of the last recorded change (0 at boot).
        read_mismatches: read(2) calls that returned bytes other than expected (counted per
            page copied).
        log: the first MISMATCH_LOG_MAX mismatch descriptions.
    """

    # state context: mem: PhysicalMemory from machine.physmem; disk: Disk from machine.disk
    # state save context: k: Kernel from kernelmodel.kernel.kernel
    def __init__(self, generator: int = PAYLOAD_GENERATOR) -> None:
        super().__init__(generator)
        self.generator: int = generator  # state
        self.files: dict[int, OracleFile] = {}  # state: keyed=ino
        self.seq: int = 0  # state
        self.read_mismatches: int = 0  # state
        self.log: list[str] = []  # state

    # The kernel's hooks (kernel/vl_data_hooks.py): each is the module function below.
    def file_create(self, k: Kernel, ino: int, size: int, kind: int, seed: int) -> None:
        oracle_file_create(k, ino, size, kind, seed)

    def file_write(
        self, k: Kernel, ino: int, offset: int, data: bytes, via_mmap: bool, seed: int,
        stream: int,
    ) -> None:
        oracle_file_write(k, ino, offset, data, via_mmap, seed, stream)

    def file_truncate(self, k: Kernel, ino: int, size: int) -> None:
        oracle_file_truncate(k, ino, size)

    def file_forget(self, k: Kernel, ino: int) -> None:
        oracle_file_forget(k, ino)

    def file_expected(self, k: Kernel, ino: int, index: int) -> bytes:
        return oracle_file_expected(k, ino, index)

    def read_check(self, k: Kernel, ino: int, pos: int, index: int, off: int, data: bytes) -> None:
        nr = len(data)
        bad = vl_compare(oracle_file_expected(k, ino, index)[off : off + nr], data, nr)
        if bad >= 0:
            oracle_read_mismatch(k, ino, pos, nr, pos + bad)

    def pte_dirty_moved(self, k: Kernel, ino: int, index: int) -> None:
        oracle_pte_dirty_moved(k, ino, index)

    def fsync_begin(self, k: Kernel, ino: int) -> int:
        return oracle_fsync_begin(k, ino)

    def fsync_acked(self, k: Kernel, ino: int, token: int) -> None:
        oracle_fsync_acked(k, ino, token)

    def verify(self, k: Kernel) -> list[str]:
        return vl_verify_files(k)

    def verify_durable(self, k: Kernel) -> tuple[int, list[str]]:
        return vl_verify_durable(k)

    def to_state(self, k: Kernel) -> dict[str, object]:
        """``save_oracle``: the kernel saves its oracle through the hooks' interface."""
        from kernelmodel.oracle.state_generated import save_oracle

        return save_oracle(self, k)

    def vl_check_state(self) -> None:
        """A restored state keeps its payload generator, which must be one this model has."""
        if self.generator not in PAYLOAD_GENERATORS:
            raise ValueError(f"oracle state: unknown payload generator {self.generator}")


def _log(o: Oracle, text: str) -> None:
    if len(o.log) < MISMATCH_LOG_MAX:
        o.log.append(text)


# ---- recording ---------------------------------------------------------------------------------


def _file(k: Kernel, ino: int) -> OracleFile:
    o = vl_oracle(k)
    f = o.files.get(ino)
    if f is None:
        f = OracleFile(ino, o.generator)
        o.files[ino] = f
    return f


def _touch(o: Oracle, f: OracleFile, index: int) -> None:
    o.seq += 1
    f.page_seq[index] = o.seq


def vl_oracle(k: Kernel) -> Oracle:
    """The kernel's file oracle, as the oracle itself (the kernel holds it as its hooks)."""
    o = k.oracle
    assert isinstance(o, Oracle)
    return o


def oracle_file_create(k: Kernel, ino: int, size: int, kind: int, seed: int) -> None:
    """Record a boot-time file of ``size`` bytes whose contents are the base (kind, seed).

    Caller: vl_create_file, before any other change to the inode.
    """
    f = _file(k, ino)
    f.size = size
    f.base_kind = kind
    f.base_seed = seed
    f.base_size = size
    f.pages.clear()
    f.described.clear()


def oracle_file_write(
    k: Kernel, ino: int, offset: int, data: bytes, via_mmap: bool = False, seed: int = -1,
    stream: int = 0,
) -> None:
    """Record that ``data`` was written at byte ``offset`` of the file (size grows to cover it).

    ``via_mmap``: a store through a shared mapping (its pages wait in ``mmap_pending``).
    ``seed`` >= 0: ``data`` is bytes ``[stream, stream + len(data))`` of that write payload
    stream (``vl_payload_slice`` with the oracle's generator); a page it covers whole is kept
    as that description, not as bytes.

    Caller: the write path, in the same step that copies the bytes into the page cache.
    """
    o = vl_oracle(k)
    f = _file(k, ino)
    pos = offset
    src = 0
    end = offset + len(data)
    while pos < end:
        index = pos >> PAGE_SHIFT
        off = pos & (PAGE_SIZE - 1)
        n = min(PAGE_SIZE - off, end - pos)
        if n == PAGE_SIZE and seed >= 0:
            f.pages.pop(index, None)
            f.described[index] = (seed, stream + src)
        else:
            page = bytearray(f.expected(index))
            page[off : off + n] = data[src : src + n]
            f.described.pop(index, None)
            f.pages[index] = bytes(page)
        _touch(o, f, index)
        if via_mmap:
            f.mmap_pending[index] = o.seq
        pos += n
        src += n
    if end > f.size:
        f.size = end


def oracle_pte_dirty_moved(k: Kernel, ino: int, index: int) -> None:
    """A pte's dirty bit reached page ``index`` of file ``ino`` (set_page_dirty from a pte):
    the shared-mapping stores to it are now the page cache's to write back.

    Caller: filemap_sync, zap_pte_range, try_to_unmap_one, when the pte was dirty.
    """
    f = vl_oracle(k).files.get(ino)
    if f is not None and f.mmap_pending:
        f.mmap_pending.pop(index, None)


def oracle_file_truncate(k: Kernel, ino: int, size: int) -> None:
    """Record a truncate (or extension) of the file to ``size`` bytes.

    Pages past the new end are forgotten and the tail of a partial last page becomes zeros.

    Caller: the truncate path, in the step that sets i_size.
    """
    o = vl_oracle(k)
    f = _file(k, ino)
    if size < f.size:
        first_gone = (size + PAGE_SIZE - 1) >> PAGE_SHIFT
        for index in list(f.pages) + list(f.described):
            if index >= first_gone:
                f.forget(index)
        for index in list(f.page_seq) + list(f.acked):
            if index >= first_gone:
                _touch(o, f, index)
        for index in list(f.mmap_pending):
            if index >= first_gone:
                del f.mmap_pending[index]
        partial = size & (PAGE_SIZE - 1)
        if partial:
            last = size >> PAGE_SHIFT
            page = bytearray(f.expected(last))
            page[partial:] = bytes(PAGE_SIZE - partial)
            f.described.pop(last, None)
            f.pages[last] = bytes(page)
            _touch(o, f, last)
        if f.base_size > size:
            f.base_size = size
    f.size = size


def oracle_file_forget(k: Kernel, ino: int) -> None:
    """The inode was deleted: the file no longer exists."""
    vl_oracle(k).files.pop(ino, None)


def oracle_file_expected(k: Kernel, ino: int, index: int) -> bytes:
    """The 4096 bytes page ``index`` of inode ``ino`` must hold (zeros past its size)."""
    f = vl_oracle(k).files.get(ino)
    if f is None:
        return _ZERO_PAGE
    return f.expected(index)


def oracle_file_size(k: Kernel, ino: int) -> int:
    """The expected size of inode ``ino`` (-1 when the oracle does not know the file)."""
    f = vl_oracle(k).files.get(ino)
    return -1 if f is None else f.size


def oracle_read_mismatch(k: Kernel, ino: int, offset: int, nbytes: int, first_bad: int) -> None:
    """A read(2) copied out ``nbytes`` at ``offset`` that differ from the expected bytes.

    Args:
        first_bad: the file offset of the first differing byte.
    """
    o = vl_oracle(k)
    o.read_mismatches += 1
    _log(o, f"read ino {ino} offset {offset} len {nbytes}: first bad byte at {first_bad}")


def vl_compare(expected: bytes, got: bytes, limit: int) -> int:
    """Index of the first byte below ``limit`` where the two differ, or -1."""
    n = min(limit, len(expected), len(got))
    if expected[:n] == got[:n]:
        return -1
    i = 0
    while i < n:
        if expected[i] != got[i]:
            return i
        i += 1
    return -1


# ---- fsync acknowledgements --------------------------------------------------------------------


def oracle_fsync_begin(k: Kernel, ino: int) -> int:
    """An fsync/fdatasync of ``ino`` starts: returns the token to pass to oracle_fsync_acked."""
    return vl_oracle(k).seq


def oracle_fsync_acked(k: Kernel, ino: int, token: int) -> None:
    """The fsync that began with ``token`` returned success: its pages are acknowledged.

    Every page of the file whose last change is at or before the token is promised durable,
    except pages with shared-mapping stores fsync cannot see (``mmap_pending``).
    """
    f = vl_oracle(k).files.get(ino)
    if f is None:
        return
    size_pages = (f.size + PAGE_SIZE - 1) >> PAGE_SHIFT
    index = 0
    while index < size_pages:
        seq = f.page_seq.get(index, 0)
        if seq <= token and index not in f.mmap_pending:
            f.acked[index] = seq
        index += 1


def oracle_sync_acked(k: Kernel, token: int) -> None:
    """sync(2) that began with ``token`` (an oracle_fsync_begin value) completed: ack all files."""
    for ino in list(vl_oracle(k).files):
        oracle_fsync_acked(k, ino, token)


# ---- verification ------------------------------------------------------------------------------


@final
class AckedPage:
    """A page a sync acknowledged, as ``vl_acked_on_disk`` finds it."""

    def __init__(self, ino: int, path: str, index: int, block: int, limit: int, want: bytes,
                 got: bytes) -> None:
        self.ino = ino
        self.path = path
        self.index = index
        self.block = block  # -1: a hole
        self.limit = limit  # the bytes below the file size
        self.want = want  # what the oracle says the page holds
        self.got = got  # what the disk holds for it


def _disk_block_bytes(k: Kernel, block: int) -> bytes:
    from kernelmodel.fs.fs import BLOCK_SECTORS

    return k.machine.disk.read_sectors(block * BLOCK_SECTORS, BLOCK_SECTORS)


def vl_verify_files(k: Kernel) -> list[str]:
    """Compare every file's expected bytes with the machine; returns the problems found.

    For each page below the file size: an uptodate page-cache page is compared with its frame;
    otherwise the disk block of the page (or zeros for a hole). Only bytes below the file size
    are compared (the kernel leaves what lies past EOF in the last page alone). An inode being
    deleted (I_FREEING) has no contents any more and is skipped.
    """
    from kernelmodel.fs.fs import I_FREEING
    from kernelmodel.include.page import PageUptodate
    from kernelmodel.mm.filemap import vl_find_page_nolock

    out: list[str] = []
    mem = k.machine.mem
    for ino, inode in k.sb.s_inodes.items():
        if inode.i_state & I_FREEING:
            continue
        f = vl_oracle(k).files.get(ino)
        if f is None:
            out.append(f"inode {ino}: unknown to the oracle")
            continue
        if inode.i_size != f.size:
            out.append(f"inode {ino}: i_size {inode.i_size}, expected {f.size}")
        npages = (f.size + PAGE_SIZE - 1) >> PAGE_SHIFT
        for index in range(npages):
            limit = min(PAGE_SIZE, f.size - (index << PAGE_SHIFT))
            page = vl_find_page_nolock(inode.i_mapping, index)
            if page is not None and PageUptodate(page):
                got = mem.frame_bytes(page.pfn)
                where = f"page cache pfn {page.pfn}"
            else:
                block = inode.i_blocks.get(index, -1)
                got = _disk_block_bytes(k, block) if block >= 0 else _ZERO_PAGE
                where = f"disk block {block}" if block >= 0 else "hole"
            bad = vl_compare(f.expected(index), got, limit)
            if bad >= 0:
                out.append(
                    f"inode {ino} ({inode.vl_path}) page {index}: byte {bad} differs in {where}"
                )
    for ino in vl_oracle(k).files:
        if ino not in k.sb.s_inodes:
            out.append(f"inode {ino}: in the oracle but not in the filesystem")
    return out


def vl_acked_on_disk(k: Kernel, skip_freeing: bool = False) -> Iterator[AckedPage]:
    """Every page an integrity sync acknowledged and nobody changed since, with what the disk
    holds for it: the pages whose durability 2.6.6's fsync, fdatasync, sync and
    msync(MS_SYNC) promised. Only the bytes below the file size count (``limit``); a page
    past the end is skipped. ``skip_freeing``: leave out inodes being freed (a restored state
    may hold one whose blocks are already going)."""
    from kernelmodel.fs.fs import I_FREEING

    for ino, f in vl_oracle(k).files.items():
        inode = k.sb.s_inodes.get(ino)
        if inode is None or (skip_freeing and inode.i_state & I_FREEING):
            continue
        for index, seq in f.acked.items():
            if f.page_seq.get(index, 0) != seq:
                continue
            limit = min(PAGE_SIZE, f.size - (index << PAGE_SHIFT))
            if limit <= 0:
                continue
            block = inode.i_blocks.get(index, -1)
            got = _disk_block_bytes(k, block) if block >= 0 else _ZERO_PAGE
            yield AckedPage(ino, inode.vl_path, index, block, limit, f.expected(index), got)


def vl_verify_durable(k: Kernel) -> tuple[int, list[str]]:
    """After a power cut: bytes acknowledged by a completed fsync that the disk does not hold.

    Only pages whose contents did not change after their acknowledgement are checked, and
    only the bytes below the file size. Returns (bytes lost, problems).
    """
    lost = 0
    out: list[str] = []
    for p in vl_acked_on_disk(k):
        want, got = p.want, p.got
        if vl_compare(want, got, p.limit) < 0:
            continue
        nbad = 0
        for i in range(p.limit):
            if want[i] != got[i]:
                nbad += 1
        lost += nbad
        out.append(f"inode {p.ino} page {p.index}: {nbad} acknowledged bytes not on disk")
    return lost, out
