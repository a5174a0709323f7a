"""Every declared frame class of every subsystem, entered in the registry of frame kinds
(``frame_state.FRAME_CLASSES``; model plumbing).

This module names the frame classes of ``mm/``, ``fs/`` and ``kernel/``; ``frame_state.py``
(which a task's stack is saved and loaded with) names none, so the frame protocol imports no
subsystem. Importing this module fills the registry; ``vl_frame_classes`` returns it filled.
"""

from __future__ import annotations

from typing import Final

from kernelmodel.fs.fs_writeback import SyncSbInodes, WritebackSingleInode
from kernelmodel.fs.fsync import FsyncOp, SyncOp
from kernelmodel.fs.mpage import MpageWritepages
from kernelmodel.fs.open import CloseOp, DeleteInodeOp, ExitFilesOp, OpenOp, UnlinkOp
from kernelmodel.fs.read_write import ReadOp, WriteOp
from kernelmodel.kernel.exit import ExitOp, WaitChildrenOp
from kernelmodel.kernel.fork import ForkOp
from kernelmodel.kernel.frame_state import FRAME_CLASSES, vl_register_frames
from kernelmodel.kernel.syscalls import ImmediateOp, NanosleepOp
from kernelmodel.kernel.task import KOp
from kernelmodel.mm.filemap_wb import Fdatawrite, WaitOnPageWritebackRange, WriteAndWait
from kernelmodel.mm.memory import FaultOp
from kernelmodel.mm.mmap import MmSyscallOp
from kernelmodel.mm.msync import MsyncOp
from kernelmodel.mm.page_writeback import BackgroundWriteout, BalanceDirtyPagesOp, WbKupdate
from kernelmodel.mm.pdflush import PdflushOp
from kernelmodel.mm.truncate import TruncateInodePagesOp, TruncateOp
from kernelmodel.mm.vmscan import KswapdOp

#: Every declared frame class (the one registry of frame kinds).
_CLASSES: Final[tuple[type[KOp], ...]] = (
    FsyncOp, SyncOp, Fdatawrite, WaitOnPageWritebackRange, WriteAndWait, MpageWritepages,
    WritebackSingleInode, SyncSbInodes, BalanceDirtyPagesOp, BackgroundWriteout, WbKupdate,
    PdflushOp,
    # fs and kernel: the system calls, exit, wait and fork
    ReadOp, WriteOp, OpenOp, CloseOp, UnlinkOp, DeleteInodeOp, ExitFilesOp, ExitOp,
    WaitChildrenOp, ForkOp, NanosleepOp, ImmediateOp,
    # mm: reclaim, faults, truncation, the memory syscalls
    KswapdOp, FaultOp, TruncateInodePagesOp, TruncateOp, MmSyscallOp, MsyncOp,
)


def vl_frame_classes() -> dict[str, type[KOp]]:
    """The registry of frame kinds, filled with every frame class (frame_state.FRAME_CLASSES)."""
    if len(FRAME_CLASSES) != len(_CLASSES):
        vl_register_frames(_CLASSES)
    return FRAME_CLASSES


vl_frame_classes()
