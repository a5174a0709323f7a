"""A recorded program's memory accesses, laid out for the CPU's replay loop (``OP_REPLAY``).

A ``ReplayTrace`` is the text of a replayed program: the accesses a real program made (as
valgrind's lackey recorded them, relocated into the i386 user address space by
``scenarios.trace``), in order, grouped in runs of consecutive accesses to one page. Both
columns are ``bytes``, whose items compiled code reads without boxing (an ``array`` item
costs a generic call and a new int object):

    runs    8 bytes per run, little-endian: the i386 virtual page number (u32), then the
            index one past the run's last access (u32; runs are back to back from 0)
    acc     2 bytes per access: the byte offset in the page (12 bits: the first byte and the
            low 4 bits of the second), the kind (ACC_FETCH, ACC_LOAD, ACC_STORE, ACC_MODIFY;
            bits 4-5 of the second byte) and ACC_CROSSES (bit 6: the access runs past the
            page's end)

It is read-only data shared by every task that replays it; a task's progress is its
``CpuContext.cursor``. Snapshots store the trace's identity (``checksum``, in the
instruction's ``s`` operand), never these bytes: the runner finds the trace file again.

Invariants:
    * run ends are strictly increasing and the last one is ``count``;
    * an access that crosses its page's end continues on the run's page + 1.
"""

from __future__ import annotations

from array import array
from typing import Final, final

from mypy_extensions import i64

#: Access kinds (lackey's I, L, S and M), as in the trace file.
ACC_FETCH: Final = 0
ACC_LOAD: Final = 1
ACC_STORE: Final = 2
ACC_MODIFY: Final = 3
#: Bits of an access's second byte: offset bits 8-11, kind, page crossing.
ACC_HI_OFFSET: Final = 0x0F
ACC_KIND_SHIFT: Final = 4
ACC_CROSSES: Final = 0x40
_PAGE_SIZE: Final = 4096


def vl_u32(b: bytes, i: i64) -> i64:
    """The little-endian u32 at byte ``i`` of ``b``."""
    return i64(b[i]) | (i64(b[i + 1]) << 8) | (i64(b[i + 2]) << 16) | (i64(b[i + 3]) << 24)


@final
class ReplayTrace:
    """The accesses of one recorded program, ready to replay (read-only once built)."""

    def __init__(self, checksum: str, runs: bytes, acc: bytes) -> None:
        """Wrap the columns (see the module docstring for their layout).

        Raises:
            ValueError: the columns are inconsistent.
        """
        if len(runs) == 0 or len(runs) % 8 != 0 or len(acc) % 2 != 0:
            raise ValueError("replay trace: runs must be 8-byte and accesses 2-byte items")
        nruns: i64 = len(runs) >> 3
        if vl_u32(runs, (nruns - 1) * 8 + 4) != len(acc) >> 1:
            raise ValueError("replay trace: the runs do not cover the accesses")
        self.checksum: str = checksum
        self.runs: bytes = runs
        self.acc: bytes = acc
        self.count: i64 = len(acc) >> 1
        self.nruns: i64 = nruns

    def run_of(self, index: i64) -> i64:
        """The run that holds access ``index`` (binary search over the run ends)."""
        runs = self.runs
        lo: i64 = 0
        hi: i64 = self.nruns - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if vl_u32(runs, mid * 8 + 4) <= index:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def __repr__(self) -> str:
        return f"<replay trace {self.checksum[:12]} accesses={self.count} runs={self.nruns}>"


def vl_pack_runs(run_vpn: array[int], run_len: array[int]) -> bytes:
    """The ``runs`` column from each run's i386 page and access count."""
    n = len(run_vpn)
    out = bytearray(8 * n)
    end: i64 = 0
    i = 0
    while i < n:
        vpn = i64(run_vpn[i])
        end += i64(run_len[i])
        j = 8 * i
        out[j] = vpn & 0xFF
        out[j + 1] = (vpn >> 8) & 0xFF
        out[j + 2] = (vpn >> 16) & 0xFF
        out[j + 3] = (vpn >> 24) & 0xFF
        out[j + 4] = end & 0xFF
        out[j + 5] = (end >> 8) & 0xFF
        out[j + 6] = (end >> 16) & 0xFF
        out[j + 7] = (end >> 24) & 0xFF
        i += 1
    return bytes(out)


def vl_pack_accesses(offset: array[int], size: array[int], kind: array[int]) -> bytes:
    """The ``acc`` column from the trace file's offset, size and kind columns.

    Caller: the three columns have one entry per access and were range-checked.
    """
    n = len(offset)
    out = bytearray(2 * n)
    i = 0
    while i < n:
        off = i64(offset[i])
        hi = (off >> 8) | (i64(kind[i]) << ACC_KIND_SHIFT)
        if off + i64(size[i]) > _PAGE_SIZE:
            hi |= ACC_CROSSES
        out[2 * i] = off & 0xFF
        out[2 * i + 1] = hi
        i += 1
    return bytes(out)
