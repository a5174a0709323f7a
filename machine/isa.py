"""The user-mode instruction set the emulated CPU executes.

A program is a list of ``Insn`` records (plain data; an ``OP_REPLAY`` also points at the
read-only accesses it replays). Memory instructions run inside the CPU's
compiled loop and go through the MMU; everything else is a system call that traps into the
kernel. Loops are structured: ``OP_LOOP`` carries the index of its ``OP_ENDLOOP`` and vice versa.
"""

from __future__ import annotations

from typing import Final

from machine.replay import ReplayTrace

OP_TOUCH: Final = 1
"""Access a u32 at a, a+c, a+2c, ... below a+b (a=vaddr, b=length, c=stride, d=TOUCH_* flags)."""
OP_STORE: Final = 2
"""Store the u32 b at vaddr a."""
OP_LOAD: Final = 3
"""Load the u32 at vaddr a; if c != 0 compare it with b and report a mismatch."""
OP_LOOP: Final = 4
"""Run the body up to the matching OP_ENDLOOP (index b) a times."""
OP_ENDLOOP: Final = 5
"""End of a loop body; a is the index of the matching OP_LOOP."""
OP_SYSCALL: Final = 6
"""System call number a with integer arguments b, c, d and string argument s."""
OP_COMPUTE: Final = 7
"""Spend a nanoseconds of CPU time without touching memory."""
OP_REPLAY: Final = 8
"""Replay the recorded accesses of ``trace`` (a ``machine.replay.ReplayTrace``) b times,
charging c ns per access; s is the trace's checksum (its identity in snapshots)."""

TOUCH_WRITE: Final = 1

OP_NAMES: Final = {
    OP_TOUCH: "touch",
    OP_STORE: "store",
    OP_LOAD: "load",
    OP_LOOP: "loop",
    OP_ENDLOOP: "endloop",
    OP_SYSCALL: "syscall",
    OP_COMPUTE: "compute",
    OP_REPLAY: "replay",
}


class Insn:
    """One user instruction: an opcode and its operands (plain data)."""

    # state row
    def __init__(
        self, op: int, a: int = 0, b: int = 0, c: int = 0, d: int = 0, s: str = ""
    ) -> None:
        self.op: int = op  # state
        self.a: int = a  # state
        self.b: int = b  # state
        self.c: int = c  # state
        self.d: int = d  # state
        self.s: str = s  # state
        #: OP_REPLAY's accesses: program text loaded beside the instruction, not part of
        #: its plain-data state (the runner attaches it again after a restore).
        self.trace: ReplayTrace | None = None

    def __repr__(self) -> str:
        name = OP_NAMES.get(self.op, str(self.op))
        return f"<insn {name} a={self.a:#x} b={self.b:#x} c={self.c} d={self.d} s={self.s!r}>"
