"""Drive one frame of the task protocol (kernelmodel/kernel/task.py) outside the scheduler."""

from __future__ import annotations

from kernelmodel.include.writeback import WritebackControl
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import KOP_CALL, KOP_DONE, KOp, Task


def run_frame(k: Kernel, task: Task, frame: KOp, wbc: WritebackControl | None = None) -> int:
    """Step ``frame`` (pushed on ``task``'s stack if it is not there) and its callees until it
    returns (KOP_DONE) or a frame yields (KOP_CONTINUE) or sleeps (KOP_BLOCKED); ``wbc``, if
    given, is the caller's writeback_control the frame works on."""
    if wbc is not None:
        frame.wbc = wbc
    if not any(f is frame for f in task.kstack):
        task.kstack.append(frame)
    while True:
        top = task.kstack[-1]
        r = top.step(k, task)
        if r == KOP_DONE:
            task.kstack.pop()
            task.kret = top.result
            if top is frame:
                return KOP_DONE
            continue
        if r != KOP_CALL:
            return r


def reload_stack(k: Kernel, kstack: list[KOp]) -> list[KOp]:
    """Save ``kstack`` and load it into new frames (asserting that those save the same)."""
    from kernelmodel.kernel.frame_state import vl_kstack_state, vl_link_callees
    from kernelmodel.state.restore import vl_kop_from_state

    state = vl_kstack_state(kstack)
    again: list[KOp] = []
    for s in state:
        again.append(vl_kop_from_state(k, s, again[-1] if again else None))
    vl_link_callees(again, state)
    assert vl_kstack_state(again) == state
    return again


def stack_round_trips(k: Kernel, kstack: list[KOp]) -> list[dict[str, object]]:
    """Save ``kstack``, load it into new frames, save those: asserts both saves are equal
    and returns the state."""
    from kernelmodel.kernel.frame_state import vl_kstack_state

    reload_stack(k, kstack)
    return vl_kstack_state(kstack)
