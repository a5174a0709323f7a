"""Scripted ``TrapHandler``/``IrqHandler`` doubles for tests and benchmarks (scaffolding).

Interpreted classes cannot implement compiled traits (mypyc raises "interpreted classes cannot
inherit from compiled traits", even with ``allow_interpreted_subclasses``), so test doubles for
the handlers must themselves be compiled; they live here. They are driven by data, not
callbacks: tests queue the answers they give and read back what they recorded.

Behaviour:
    * a not-present fault maps a fresh zeroed frame (``map_flags``), taking page tables and
      frames from a bump allocator; a protection fault adds RW|US to the PTE and invlpg's it;
    * ``fault_actions``/``syscall_actions`` are answered in order, then the defaults apply
      (fix and retry; advance pc and continue);
    * stores, faults, syscalls, load mismatches and exits are recorded in lists.
"""

from __future__ import annotations

from array import array
from typing import Final, final

from machine.bench_support import VL_USER_RW, vl_pte_addr, vl_set_pte
from machine.clock import EV_TIMER, Clock
from machine.cpu import Cpu, CpuContext
from machine.disk import DiskRequest
from machine.i386 import FEC_PROT, PAGE_SHIFT, PTE_RW, PTE_US
from machine.interfaces import TRAP_CONTINUE, TRAP_RETRY, TRAP_STOP, IrqHandler, TrapHandler
from machine.isa import Insn
from machine.mmu import MMU
from machine.physmem import PhysicalMemory

#: Fault action: fix the fault and retry (the default).
VL_FIX_RETRY: Final = 0
#: Fault action: leave the fault unfixed and stop (the access re-runs next time).
VL_STOP: Final = 1
#: Fault action: fix the fault, then stop (as if the task slept on I/O).
VL_FIX_STOP: Final = 2


@final
class VlFakeTrap(TrapHandler):
    """A demand-paging, scripted trap handler over one page directory."""

    def __init__(
        self,
        mem: PhysicalMemory,
        mmu: MMU,
        cpu: Cpu | None,
        pgd_pfn: int,
        first_free_pfn: int,
        fresh: bool = True,
    ) -> None:
        """Set up a handler whose page directory is frame ``pgd_pfn``.

        With ``fresh`` the directory is zeroed and loaded into CR3; without it the handler
        adopts the existing directory and CR3 (after a restore).

        Caller: frames from ``first_free_pfn`` up are free for the handler's allocator.
        """
        self.mem: PhysicalMemory = mem
        self.mmu: MMU = mmu
        self.cpu: Cpu | None = cpu
        self.pgd_paddr: int = pgd_pfn << PAGE_SHIFT
        self.next_pfn: int = first_free_pfn
        self.map_flags: int = VL_USER_RW
        self.fault_actions: list[int] = []
        self.syscall_actions: list[int] = []
        self.fault_charge_ns: int = 0
        self.syscall_charge_ns: int = 0
        self.record_stores: bool = True
        self.faults: list[tuple[int, int, int]] = []
        self.syscalls: list[tuple[int, int, int]] = []
        self.stores: list[tuple[int, int]] = []
        self.store_count: int = 0
        self.mismatches: list[tuple[int, int, int]] = []
        self.exits: list[int] = []
        if fresh:
            mem.zero_frame(pgd_pfn)
            mmu.load_cr3(self.pgd_paddr)

    def alloc_frame(self) -> int:
        """Take the next free frame (zeroed)."""
        pfn = self.next_pfn
        self.next_pfn = pfn + 1
        self.mem.zero_frame(pfn)
        return pfn

    def map_page(self, vaddr: int, flags: int) -> int:
        """Map ``vaddr``'s page to a fresh frame with PTE ``flags``; return the pfn."""
        pfn = self.alloc_frame()
        spare = self.next_pfn
        self.next_pfn = vl_set_pte(
            self.mem, self.pgd_paddr, vaddr, (pfn << PAGE_SHIFT) | flags, spare
        )
        return pfn

    def _fix(self, vaddr: int, error_code: int) -> None:
        """Resolve a fault: upgrade the PTE on a protection fault, else map a new page."""
        if error_code & FEC_PROT:
            addr = vl_pte_addr(self.mem, self.pgd_paddr, vaddr)
            self.mem.write_u32(addr, self.mem.read_u32(addr) | PTE_RW | PTE_US)
            self.mmu.invlpg(vaddr)
        else:
            self.map_page(vaddr, self.map_flags)

    def handle_page_fault(self, ctx: CpuContext, vaddr: int, error_code: int) -> int:
        self.faults.append((ctx.pid, vaddr, error_code))
        if self.cpu is not None:
            self.cpu.charge(self.fault_charge_ns)
        action = self.fault_actions.pop(0) if self.fault_actions else VL_FIX_RETRY
        if action == VL_STOP:
            return TRAP_STOP
        self._fix(vaddr, error_code)
        return TRAP_STOP if action == VL_FIX_STOP else TRAP_RETRY

    def handle_syscall(self, ctx: CpuContext, insn: Insn) -> int:
        self.syscalls.append((ctx.pid, ctx.pc, insn.a))
        if self.cpu is not None:
            self.cpu.charge(self.syscall_charge_ns)
        action = self.syscall_actions.pop(0) if self.syscall_actions else TRAP_CONTINUE
        if action == TRAP_CONTINUE:
            ctx.retval = insn.a
            ctx.pc += 1
        return action

    def handle_exit(self, ctx: CpuContext) -> None:
        self.exits.append(ctx.pid)

    def note_store(self, ctx: CpuContext, vaddr: int, value: int) -> None:
        self.store_count += 1
        if self.record_stores:
            self.stores.append((vaddr, value))

    def note_store_run(self, ctx: CpuContext, vaddr: int, stride: int, values: array[int]) -> None:
        v = vaddr
        for value in values:
            self.note_store(ctx, v, value)
            v += stride

    def note_load(self, ctx: CpuContext, vaddr: int, expected: int, got: int) -> None:
        self.mismatches.append((vaddr, expected, got))


@final
class VlFakeIrq(IrqHandler):
    """Records interrupts; a timer with a non-zero ``rearm_ns`` re-arms itself (a periodic tick)."""

    def __init__(self, clock: Clock) -> None:
        self.clock: Clock = clock
        self.rearm_ns: int = 0
        #: (clock.now, timer_id, arg) per timer interrupt.
        self.timers: list[tuple[int, int, int]] = []
        #: (clock.now, req_id, cookie) per disk interrupt.
        self.disk_done: list[tuple[int, int, int]] = []
        self.disk_data: list[bytes] = []

    def handle_disk_irq(self, req: DiskRequest) -> None:
        self.disk_done.append((self.clock.now, req.req_id, req.cookie))
        self.disk_data.append(req.data)

    def handle_timer(self, timer_id: int, arg: int) -> None:
        self.timers.append((self.clock.now, timer_id, arg))
        if self.rearm_ns > 0:
            self.clock.schedule(self.clock.now + self.rearm_ns, EV_TIMER, timer_id, arg + 1)
