"""The data oracles as the kernel sees them: what kernel paths tell them, and the little they
ask (model only, no kernel counterpart or release).

The oracles (``kernelmodel/oracle/``) keep the model's ground truth of every file byte and
every word of user memory, beside the kernel and never read by it to make a decision. Kernel
paths report to them at the points where the truth changes (a write, a truncate, an fsync
acknowledged, a munmap, a user store) through these two interfaces, which the kernel holds as
``k.oracle`` and ``k.mm_oracle``. The oracles implement them; kernel-tree code never imports
the oracles, so the ground truth can change without the kernel depending on it.

A boot-time file's contents are named in the words of lib/payload.py (``BASE_*``): the
filesystem writes it straight to the disk and the oracle records it in the same words.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel
    from kernelmodel.kernel.task import Task


class VlFileOracleHooks:
    """What kernel paths tell the file data oracle (oracle/oracle.py ``Oracle``).

    Attributes:
        generator: the payload generator write(2) uses (lib/payload.py); kept by the oracle
            because a restored state goes on with the one it recorded.
        read_mismatches: read(2) calls that returned bytes other than expected (a metric).
    """

    def __init__(self, generator: int) -> None:
        self.generator = generator
        self.read_mismatches = 0

    def file_create(self, k: Kernel, ino: int, size: int, kind: int, seed: int) -> None:
        """A boot-time file of ``size`` bytes whose contents are the base (kind, seed;
        kind is lib/payload.py's ``BASE_*``)."""
        raise NotImplementedError

    def file_write(
        self, k: Kernel, ino: int, offset: int, data: bytes, via_mmap: bool, seed: int,
        stream: int,
    ) -> None:
        """``data`` reached file ``ino`` at ``offset`` (write(2) or a shared mapping)."""
        raise NotImplementedError

    def file_truncate(self, k: Kernel, ino: int, size: int) -> None:
        """The file was truncated (or extended) to ``size`` bytes."""
        raise NotImplementedError

    def file_forget(self, k: Kernel, ino: int) -> None:
        """The inode was deleted."""
        raise NotImplementedError

    def file_expected(self, k: Kernel, ino: int, index: int) -> bytes:
        """The 4096 bytes page ``index`` of ``ino`` must hold (a boot file's page, a read's
        comparison)."""
        raise NotImplementedError

    def read_check(self, k: Kernel, ino: int, pos: int, index: int, off: int, data: bytes) -> None:
        """A read(2) at file position ``pos`` copied ``data`` out of page ``index`` from offset
        ``off``: the oracle compares it with what the file must hold (a mismatch is counted)."""
        raise NotImplementedError

    def pte_dirty_moved(self, k: Kernel, ino: int, index: int) -> None:
        """A pte's dirty bit reached page ``index`` of ``ino`` (set_page_dirty from a pte)."""
        raise NotImplementedError

    def fsync_begin(self, k: Kernel, ino: int) -> int:
        """An fsync, fdatasync, sync or msync starts: the token its acknowledgement names."""
        raise NotImplementedError

    def fsync_acked(self, k: Kernel, ino: int, token: int) -> None:
        """The call that began with ``token`` returned success for ``ino``."""
        raise NotImplementedError

    def verify(self, k: Kernel) -> list[str]:
        """Every file's bytes against the machine (a program's ``verify``); [] when all match."""
        raise NotImplementedError

    def verify_durable(self, k: Kernel) -> tuple[int, list[str]]:
        """After a power cut: acknowledged bytes the disk does not hold, and the pages."""
        raise NotImplementedError

    def to_state(self, k: Kernel) -> dict[str, object]:
        raise NotImplementedError


class VlMmOracleHooks:
    """What the kernel tells the user-memory data oracle (oracle/oracle_mm.py ``VlMmOracle``)."""

    def note_store(self, k: Kernel, task: Task, vaddr: int, value: int) -> None:
        """A user store of the u32 ``value`` at ``vaddr`` completed (the CPU's trap hook)."""
        raise NotImplementedError

    def note_store_run(
        self, k: Kernel, task: Task, vaddr: int, stride: int, values: array[int]
    ) -> None:
        """One touch run's stores in one page (the CPU's trap hook)."""
        raise NotImplementedError

    def note_load_mismatch(
        self, k: Kernel, task: Task, vaddr: int, expected: int, got: int
    ) -> None:
        """A checked user load read ``got`` where the program expected ``expected``."""
        raise NotImplementedError

    def mm_fork(self, k: Kernel, parent_mm: int, child_mm: int) -> None:
        """fork: the child expects what the parent expects."""
        raise NotImplementedError

    def mm_unmap(self, k: Kernel, mm_id: int, start: int, end: int) -> None:
        """munmap (or a truncate's zap of private pages): forget [start, end)."""
        raise NotImplementedError

    def mm_exit(self, k: Kernel, mm_id: int) -> None:
        """The mm is gone."""
        raise NotImplementedError

    def verify(self, k: Kernel) -> list[str]:
        """Every mm's user memory against the oracle; [] when all match."""
        raise NotImplementedError

    def to_state(self, k: Kernel) -> dict[str, object]:
        raise NotImplementedError
