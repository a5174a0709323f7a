"""A recorded program's memory accesses, laid out for the CPU's replay loop (``OP_REPLAY``).

A ``ReplayTrace`` is the text of a replayed program: the accesses a real program made (as
valgrind's lackey recorded them, relocated into the i386 user address space by
``scenarios.trace``), in order, grouped in runs of consecutive accesses to one page.

    run_vpn[r]   the i386 virtual page number of run r
    run_end[r]   index one past the last access of run r (runs are back to back from 0)
    acc[i]       access i packed: byte offset in the page (bits 0-11), size in bytes
                 (bits 12-24, 1..4096), kind (bits 25-26: ACC_FETCH, ACC_LOAD, ACC_STORE,
                 ACC_MODIFY)

It is read-only data shared by every task that replays it; a task's progress is its
``CpuContext.cursor``. Snapshots store the trace's identity (``checksum``, in the
instruction's ``s`` operand), never these arrays: the runner finds the trace file again.

Invariants:
    * ``run_end`` is strictly increasing and ``run_end[-1] == count``;
    * an access that crosses its page's end continues on page ``run_vpn[r] + 1``.
"""

from __future__ import annotations

from array import array
from typing import Final, final

from mypy_extensions import i64

#: Access kinds (lackey's I, L, S and M).
ACC_FETCH: Final = 0
ACC_LOAD: Final = 1
ACC_STORE: Final = 2
ACC_MODIFY: Final = 3
ACC_SIZE_SHIFT: Final = 12
ACC_KIND_SHIFT: Final = 25
ACC_OFFSET_MASK: Final = 0xFFF
ACC_SIZE_MASK: Final = 0x1FFF


@final
class ReplayTrace:
    """The accesses of one recorded program, ready to replay (read-only once built)."""

    def __init__(self, checksum: str, run_vpn: array[int], run_end: array[int],
                 acc: array[int]) -> None:
        """Wrap the arrays (see the module docstring for their layout).

        Raises:
            ValueError: the arrays are inconsistent.
        """
        if len(run_vpn) != len(run_end) or len(run_vpn) == 0:
            raise ValueError("replay trace: run_vpn and run_end must be non-empty and equal")
        if run_end[len(run_end) - 1] != len(acc):
            raise ValueError("replay trace: the runs do not cover the accesses")
        self.checksum: str = checksum
        self.run_vpn: array[int] = run_vpn
        self.run_end: array[int] = run_end
        self.acc: array[int] = acc
        self.count: i64 = len(acc)
        self.nruns: i64 = len(run_vpn)

    def run_of(self, index: i64) -> i64:
        """The run that holds access ``index`` (binary search over ``run_end``)."""
        ends = self.run_end
        lo: i64 = 0
        hi: i64 = self.nruns - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if i64(ends[mid]) <= index:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def __repr__(self) -> str:
        return f"<replay trace {self.checksum[:12]} accesses={self.count} runs={self.nruns}>"


def vl_pack_accesses(offset: array[int], size: array[int], kind: array[int]) -> array[int]:
    """The packed ``acc`` column from the trace file's offset, size and kind columns.

    Caller: the three columns have one entry per access and were range-checked.
    """
    n = len(offset)
    out = array("I", bytes(4 * n))
    i = 0
    while i < n:
        out[i] = offset[i] | (size[i] << ACC_SIZE_SHIFT) | (kind[i] << ACC_KIND_SHIFT)
        i += 1
    return out
