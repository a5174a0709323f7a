"""The only way the hardware calls up into the kernel: a trap handler and an interrupt handler.

``machine/`` defines these traits and never names a ``kernelmodel`` class; the kernel model
implements them, as an operating system installs its IDT entries.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Final

from mypy_extensions import trait

if TYPE_CHECKING:
    from machine.cpu import CpuContext
    from machine.disk import DiskRequest
    from machine.isa import Insn

#: handle_page_fault: the fault was fixed, retry the access.
TRAP_RETRY: Final = 0
#: handle_syscall: the call completed (the kernel advanced ctx.pc); keep running.
TRAP_CONTINUE: Final = 0
#: Either handler: the task can no longer run now (blocked, killed or exited); leave the CPU.
TRAP_STOP: Final = 1


@trait
class TrapHandler:
    """Exceptions and system calls raised by the CPU while it runs a user program."""

    def handle_page_fault(self, ctx: CpuContext, vaddr: int, error_code: int) -> int:
        """Page fault (vector 14): CR2 = vaddr, error code bits FEC_PROT|FEC_WRITE|FEC_USER.

        Returns TRAP_RETRY to re-execute the access, or TRAP_STOP.
        """
        raise NotImplementedError

    def handle_syscall(self, ctx: CpuContext, insn: Insn) -> int:
        """A system call instruction (int 0x80). Returns TRAP_CONTINUE or TRAP_STOP.

        The kernel advances ``ctx.pc`` past the instruction when the call completes, which may
        be much later if the call blocks.
        """
        raise NotImplementedError

    def handle_exit(self, ctx: CpuContext) -> None:
        """The program ran off its end: the implicit exit(0)."""
        raise NotImplementedError

    def note_store(self, ctx: CpuContext, vaddr: int, value: int) -> None:
        """A user store of the 32-bit ``value`` at ``vaddr`` completed (feeds the data oracle)."""
        raise NotImplementedError

    def note_store_run(self, ctx: CpuContext, vaddr: int, stride: int, values: array[int]) -> None:
        """``len(values)`` user stores completed in one page, the i-th of ``values[i]`` at
        ``vaddr + i * stride`` (a touch run; the same as that many note_store calls, in order).

        Caller: ``vaddr`` and ``stride`` are multiples of 4 and the run stays in one page.
        """
        raise NotImplementedError

    def note_load(self, ctx: CpuContext, vaddr: int, expected: int, got: int) -> None:
        """A checked load read ``got`` where the program expected ``expected``."""
        raise NotImplementedError


@trait
class IrqHandler:
    """Interrupts raised by devices and timers."""

    def handle_disk_irq(self, req: DiskRequest) -> None:
        """The disk completed ``req`` (reads carry their data in ``req.data``)."""
        raise NotImplementedError

    def handle_timer(self, timer_id: int, arg: int) -> None:
        """A timer the kernel armed with ``Clock.schedule(..., EV_TIMER, timer_id, arg)`` fired."""
        raise NotImplementedError
