"""Physical memory: ``nframes`` page frames of 4 KiB of real bytes.

Everything the machine stores lives here: user data, the page directories and page tables the
MMU walks, and the page cache the kernel model fills from the disk. Addresses are physical
byte addresses ``0 <= paddr < nframes * PAGE_SIZE``; a frame number (pfn) is ``paddr >> 12``.

Words are little-endian, as on i386. ``mem`` is the byte store: a private anonymous memory
map of the host, which the host zero-fills page by page on first touch, so a machine of
4 GiB boots without writing 4 GiB of zeros first and only the frames the machine uses take
host memory (a zero-filled ``bytearray`` would write and keep every byte). ``words`` is a
view of the same buffer as unsigned 32-bit host words, used for aligned accesses on
little-endian hosts (the MMU's page-table reads and the CPU's stores), because a
mypyc-compiled item store on the map is a generic call per byte.

Invariants:
    * ``len(mem) == nframes * PAGE_SIZE`` and ``mem`` is never resized (``words`` exports it);
    * an access outside RAM raises ``MachineCheck`` and changes nothing.
"""

from __future__ import annotations

import mmap
import sys
from array import array
from typing import Final, final

from mypy_extensions import i64

from machine.borrowed import BorrowedBytes
from machine.state_read import read_bytes, read_int

PAGE_SIZE: Final = 4096
PAGE_SHIFT: Final = 12

_ZERO_FRAME: Final = bytes(PAGE_SIZE)
#: Aligned u32 accesses may use the host-word view only on a little-endian host.
_HOST_LITTLE: Final = sys.byteorder == "little"


class MachineCheck(Exception):
    """An access to a physical address that is not backed by RAM (a model bug, never user error)."""


def _mib(nbytes: int) -> str:
    """Human size of RAM for messages: "16 MiB" or "12 KiB"."""
    if nbytes % (1 << 20) == 0:
        return f"{nbytes >> 20} MiB"
    return f"{nbytes >> 10} KiB"


def vl_new_ram(nbytes: int) -> mmap.mmap:
    """``nbytes`` of zeroed RAM: a private anonymous map, zero-filled lazily by the host (a
    private map, so a forked process never shares the machine's memory)."""
    return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)


def _ram_from_runs(nframes: int, pfns: bytes, data: bytes) -> mmap.mmap:
    """RAM of ``nframes`` frames from ``to_state``'s non-zero frames: each run of
    consecutive pfns is copied into fresh RAM at once; the zero gaps between them are never
    written (fresh RAM reads as zeros).

    Raises:
        ValueError: a pfn is outside RAM or out of order.
    """
    words = array("I", pfns)
    if not _HOST_LITTLE:
        words.byteswap()
    count = len(words)
    ram = vl_new_ram(nframes * PAGE_SIZE)
    src = memoryview(data)
    end = 0  # frames placed so far
    i = 0
    while i < count:
        pfn: int = words[i]
        if pfn < end:
            raise ValueError(f"physmem state: frame {pfn} listed out of order")
        n = 1
        while i + n < count and words[i + n] == pfn + n:
            n += 1
        if pfn + n > nframes:
            raise ValueError(f"physmem state: frame {pfn + n - 1} beyond {nframes} frames")
        ram[pfn * PAGE_SIZE : (pfn + n) * PAGE_SIZE] = src[i * PAGE_SIZE : (i + n) * PAGE_SIZE]
        end = pfn + n
        i += n
    src.release()
    return ram


@final
class PhysicalMemory:
    """RAM: ``nframes`` 4 KiB frames (a lazily zero-filled host map) with u32 and frame helpers."""

    def __init__(self, nframes: int, contents: mmap.mmap | bytes | bytearray | None = None) -> None:
        """Create zero-filled RAM, or RAM holding ``contents`` (a map is taken, not copied;
        other bytes are copied into a fresh map).

        Raises:
            ValueError: ``nframes`` is not positive, or ``contents`` is not its size.
        """
        if nframes <= 0:
            raise ValueError(f"physmem: nframes must be positive, got {nframes}")
        self.nframes: int = nframes
        self.size: i64 = nframes * PAGE_SIZE
        ram: mmap.mmap
        if contents is not None and len(contents) != nframes * PAGE_SIZE:
            raise ValueError(f"physmem: {len(contents)} bytes of contents for {nframes} frames")
        if isinstance(contents, mmap.mmap):
            ram = contents
        else:
            ram = vl_new_ram(nframes * PAGE_SIZE)
            if contents is not None:
                ram[:] = contents
        self.mem: mmap.mmap = ram
        view = memoryview(self.mem).cast("I")
        self.fast_words: bool = _HOST_LITTLE and view.itemsize == 4
        self.words: memoryview = view

    # ---- bounds -------------------------------------------------------------------------------

    def _bad_addr(self, paddr: int, length: int) -> MachineCheck:
        return MachineCheck(
            f"machine check: physical address {paddr:#x} (+{length}) beyond "
            f"{_mib(self.size)} of RAM"
        )

    def _check(self, paddr: int, length: int) -> None:
        """Raise MachineCheck unless ``[paddr, paddr + length)`` lies inside RAM."""
        if paddr < 0 or length < 0 or paddr + length > self.size:
            raise self._bad_addr(paddr, length)

    def _check_pfn(self, pfn: int) -> int:
        """Return the frame's byte offset, or raise MachineCheck for a pfn outside RAM."""
        if pfn < 0 or pfn >= self.nframes:
            raise MachineCheck(
                f"machine check: frame {pfn:#x} beyond the {self.nframes} frames of RAM"
            )
        return pfn << PAGE_SHIFT

    # ---- words --------------------------------------------------------------------------------

    def read_u32(self, paddr: i64) -> int:
        """Load the little-endian u32 at ``paddr`` (any alignment)."""
        if paddr < 0 or paddr + 4 > self.size:
            raise self._bad_addr(paddr, 4)
        if (paddr & 3) == 0 and self.fast_words:
            value: int = self.words[paddr >> 2]
            return value
        m = self.mem
        p = int(paddr)
        return m[p] | (m[p + 1] << 8) | (m[p + 2] << 16) | (m[p + 3] << 24)

    def write_u32(self, paddr: i64, value: i64) -> None:
        """Store ``value & 0xFFFFFFFF`` little-endian at ``paddr`` (any alignment)."""
        if paddr < 0 or paddr + 4 > self.size:
            raise self._bad_addr(paddr, 4)
        v = value & 0xFFFFFFFF
        if (paddr & 3) == 0 and self.fast_words:
            self.words[paddr >> 2] = v
            return
        m = self.mem
        p = int(paddr)
        m[p] = int(v & 0xFF)
        m[p + 1] = int((v >> 8) & 0xFF)
        m[p + 2] = int((v >> 16) & 0xFF)
        m[p + 3] = int((v >> 24) & 0xFF)

    # ---- byte ranges --------------------------------------------------------------------------

    def read(self, paddr: int, length: int) -> bytes:
        """Copy ``length`` bytes starting at ``paddr``."""
        self._check(paddr, length)
        return bytes(self.mem[paddr : paddr + length])

    def write(self, paddr: int, data: bytes) -> None:
        """Store ``data`` at ``paddr``."""
        n = len(data)
        self._check(paddr, n)
        self.mem[paddr : paddr + n] = data

    # ---- frames -------------------------------------------------------------------------------

    def zero_frame(self, pfn: int) -> None:
        """clear_page(): fill frame ``pfn`` with zeros."""
        off = self._check_pfn(pfn)
        self.mem[off : off + PAGE_SIZE] = _ZERO_FRAME

    def fill_frame(self, pfn: int, byte: int) -> None:
        """Fill frame ``pfn`` with ``byte`` (poisoning freed frames, as xv6's kfree does)."""
        off = self._check_pfn(pfn)
        if byte < 0 or byte > 0xFF:
            raise ValueError(f"physmem: fill byte {byte} outside 0..255")
        self.mem[off : off + PAGE_SIZE] = bytes((byte,)) * PAGE_SIZE

    def copy_frame(self, dst_pfn: int, src_pfn: int) -> None:
        """copy_page(): copy frame ``src_pfn`` over frame ``dst_pfn``."""
        dst = self._check_pfn(dst_pfn)
        src = self._check_pfn(src_pfn)
        if dst != src:
            self.mem[dst : dst + PAGE_SIZE] = self.mem[src : src + PAGE_SIZE]

    def frame_bytes(self, pfn: int) -> bytes:
        """A copy of the 4096 bytes of frame ``pfn``."""
        off = self._check_pfn(pfn)
        return bytes(self.mem[off : off + PAGE_SIZE])

    def frame_equals(self, pfn: int, data: bytes | array[int]) -> bool:
        """True if frame ``pfn`` holds exactly the 4096 bytes of ``data`` (any buffer; no copy)."""
        off = self._check_pfn(pfn)
        frame = self.mem[off : off + PAGE_SIZE]
        if isinstance(data, bytes):
            return frame == data
        return memoryview(data).nbytes == PAGE_SIZE and frame == bytes(data)

    def frame_is_zero(self, pfn: int) -> bool:
        """True if every byte of frame ``pfn`` is zero."""
        off = self._check_pfn(pfn)
        # A copied 4 KiB slice and one compare: cheaper than the map's find (which prepares
        # a search for every call), and the map has no startswith.
        return self.mem[off : off + PAGE_SIZE] == _ZERO_FRAME

    # ---- state --------------------------------------------------------------------------------

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        """Sparse state: the pfns of the non-zero frames (LE u32 bytes) and their bytes.

        Runs of consecutive non-zero frames are copied once, straight into the result; with
        ``borrow`` they are lent instead (machine/borrowed.py: valid until RAM next changes).
        """
        pfns = bytearray()
        view = memoryview(self.mem)
        runs: list[memoryview | bytearray | bytes] = []
        mem = self.mem
        start = -1
        pfn = 0
        while pfn < self.nframes:
            off = pfn << PAGE_SHIFT
            if mem[off : off + PAGE_SIZE] == _ZERO_FRAME:
                if start >= 0:
                    runs.append(view[start << PAGE_SHIFT : off])
                    start = -1
            else:
                pfns += pfn.to_bytes(4, "little")
                if start < 0:
                    start = pfn
            pfn += 1
        if start >= 0:
            runs.append(view[start << PAGE_SHIFT : self.nframes << PAGE_SHIFT])
        data: bytes | BorrowedBytes
        if borrow:
            data = BorrowedBytes(runs)
        else:
            data = b"".join(runs)
            for run in runs:
                if isinstance(run, memoryview):
                    run.release()
            view.release()
        return {"nframes": self.nframes, "pfns": bytes(pfns), "data": data}

    @staticmethod
    def from_state(state: dict[str, object]) -> PhysicalMemory:
        """Rebuild RAM from ``to_state`` output.

        Raises:
            ValueError: the state is malformed (sizes disagree or a pfn is outside RAM).
        """
        nframes = read_int(state, "nframes", "physmem state")
        pfns = read_bytes(state, "pfns", "physmem state")
        data = read_bytes(state, "data", "physmem state")
        if len(pfns) % 4:
            raise ValueError("physmem state: pfns must be a whole number of u32")
        count = len(pfns) // 4
        if len(data) != count * PAGE_SIZE:
            raise ValueError(f"physmem state: {len(data)} data bytes for {count} frames")
        if nframes <= 0:
            raise ValueError(f"physmem state: nframes must be positive, got {nframes}")
        return PhysicalMemory(nframes, _ram_from_runs(nframes, pfns, data))

    def __repr__(self) -> str:
        return f"<physmem {self.nframes} frames ({_mib(self.size)})>"
