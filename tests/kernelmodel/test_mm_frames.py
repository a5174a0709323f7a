"""The mm paths that sleep are frames of the one protocol (kernelmodel/kernel/task.py): kswapd,
the page fault, truncate_inode_pages and do_truncate, the memory syscalls and msync save and
load from their declared fields alone (kernelmodel/kernel/frame_state.py)."""

from __future__ import annotations

from test_mm_support import make_kernel

from kernelmodel.kernel.frame_classes import FRAME_CLASSES
from kernelmodel.kernel.frame_state import vl_kstack_state
from kernelmodel.kernel.task import Frame, KOp
from kernelmodel.mm.memory import FaultOp
from kernelmodel.mm.mmap import MmSyscallOp
from kernelmodel.mm.msync import MS_WRITE, MsyncOp
from kernelmodel.mm.truncate import TR_TRUNCATED, TruncateInodePagesOp, TruncateOp
from kernelmodel.mm.vmscan import KSWAPD_BALANCE, KswapdOp
from tests.kernelmodel.frames_support import reload_stack

_MM_FRAMES = (KswapdOp, FaultOp, TruncateInodePagesOp, TruncateOp, MmSyscallOp, MsyncOp)


def test_every_mm_op_is_a_registered_frame() -> None:
    for cls in _MM_FRAMES:
        assert issubclass(cls, Frame) and FRAME_CLASSES[cls.KIND] is cls
        assert "to_state" not in cls.__dict__ and "from_state" not in cls.__dict__


def test_kswapd_mid_balance_round_trips() -> None:
    k = make_kernel()
    op = KswapdOp()
    op.phase = KSWAPD_BALANCE
    op.priority = 7
    op.total_scanned = 99
    op.do_writepage = True
    again = reload_stack(k, [op])
    assert isinstance(again[0], KswapdOp)
    assert (again[0].priority, again[0].total_scanned, again[0].do_writepage) == (7, 99, True)
    assert again[0].describe() == "kswapd: balance_pgdat priority 7"


def test_a_fault_and_the_syscall_ops_round_trip() -> None:
    k = make_kernel()
    fault = FaultOp(0x40000000 + 12, 1, 3)
    state = vl_kstack_state(reload_stack(k, [fault]))
    assert state[0]["frame"] == "do_page_fault" and state[0]["is_fault"] is True
    assert state[0]["address"] == 0x4000000C and state[0]["maj_flt_at_start"] == 3
    munmap = MmSyscallOp("munmap", -22)
    assert vl_kstack_state(reload_stack(k, [munmap]))[0]["result"] == -22
    msync = MsyncOp([4, 9], 17)
    back = reload_stack(k, [msync])[0]
    assert isinstance(back, MsyncOp) and back.inos == [4, 9] and back.token == 17


def test_a_caller_holds_its_callee_across_a_reload() -> None:
    k = make_kernel()
    stacks: list[list[KOp]] = []
    trunc = TruncateOp("f", -1, 5000)
    trunc.phase = TR_TRUNCATED
    trunc.pages = TruncateInodePagesOp(-1, 5000)
    stacks.append([trunc, trunc.pages])
    msync = MsyncOp([4], 2)
    msync.phase = MS_WRITE
    msync.write = MmSyscallOp("stand-in", 0)  # any frame: the link is by position
    stacks.append([msync, msync.write])
    for stack in stacks:
        again = reload_stack(k, stack)
        assert again[0].calls(again[1]) and vl_kstack_state(again)[0]["phase"] == stack[0].phase
    assert reload_stack(k, stacks[0])[0].describe().startswith("truncate inode -1 to 5000: ")
