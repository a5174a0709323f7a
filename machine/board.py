"""The board: builds the machine's parts, wires them and runs the event loop.

``Machine(config)`` owns one clock, physical memory, the MMU, the CPU and the disk. The parts do
not call each other up the stack; the board pops events and routes them to the kernel's
handlers, as a motherboard routes interrupt lines:

    EV_DISK_DONE  ->  req = disk.complete()  ->  irq.handle_disk_irq(req)
    EV_TIMER      ->  irq.handle_timer(a, b)

The CPU is not driven by the board: the kernel's scheduler runs it from its timer handler.

Invariants:
    * events are dispatched in (time, seq) order and ``clock.now`` only moves forward;
    * ``events`` counts the events this board dispatched;
    * ``to_state``/``from_state`` cover the hardware only; the attached handlers belong to the
      kernel and are re-attached after a restore.
"""

from __future__ import annotations

from typing import Final, final

from machine.clock import EV_DISK_DONE, EV_TIMER, Clock
from machine.cpu import Cpu
from machine.disk import ELEVATOR_NAMES, Disk
from machine.i386 import PAGE_SIZE, SECTOR_SIZE
from machine.interfaces import IrqHandler, TrapHandler
from machine.mmu import MMU
from machine.physmem import PhysicalMemory
from machine.state_read import read_dict, read_int

#: What the loader's errors name.
_W: Final = "machine state"

#: Most RAM a 32-bit physical address reaches on i386 without PAE: 4 GiB, 1M frames (a pte's
#: 20-bit frame number). The model has one zone and maps all of it as lowmem: a real 2.6
#: kernel maps 896 MiB and puts the rest in ZONE_HIGHMEM, which the model does not have.
MAX_MEM_BYTES: Final = 4 << 30


@final
class MachineConfig:
    """The machine's hardware configuration (plain data)."""

    def __init__(
        self,
        mem_bytes: int,
        disk_bytes: int,
        tlb_entries: int = 64,
        elevator: str = "deadline",
    ) -> None:
        self.mem_bytes: int = mem_bytes  # state
        self.disk_bytes: int = disk_bytes  # state
        self.tlb_entries: int = tlb_entries  # state
        self.elevator: str = elevator  # state

    def validate(self) -> None:
        """Check the configuration.

        Raises:
            ValueError: one line naming the first bad field.
        """
        mem = self.mem_bytes
        if mem % PAGE_SIZE != 0:
            raise ValueError(f"mem_bytes: {mem} is not a multiple of 4 KiB")
        if mem <= 0:
            raise ValueError(f"mem_bytes: {mem} gives zero frames of RAM")
        if mem > MAX_MEM_BYTES:
            raise ValueError(f"mem_bytes: {mem} is above 4 GiB, the most i386 addresses "
                             "without PAE")
        disk = self.disk_bytes
        if disk <= 0 or disk % PAGE_SIZE != 0:
            raise ValueError(f"disk_bytes: {disk} is not a positive multiple of 4 KiB")
        n = self.tlb_entries
        if n < 1 or (n & (n - 1)) != 0:
            raise ValueError(f"tlb_entries: {n} is not a power of two")
        if self.elevator not in ELEVATOR_NAMES:
            names = ", ".join(ELEVATOR_NAMES)
            raise ValueError(f"elevator: unknown elevator {self.elevator!r} (one of {names})")

    @property
    def nframes(self) -> int:
        """Frames of RAM."""
        return self.mem_bytes // PAGE_SIZE

    @property
    def nsectors(self) -> int:
        """Sectors of disk."""
        return self.disk_bytes // SECTOR_SIZE

    def __repr__(self) -> str:
        return (
            f"<machine config mem={self.mem_bytes >> 10} KiB disk={self.disk_bytes >> 10} KiB "
            f"tlb={self.tlb_entries} elevator={self.elevator}>"
        )


@final
class Machine:
    """The emulated computer: clock, RAM, MMU, CPU and disk, and the event loop."""

    def __init__(self, config: MachineConfig) -> None:
        """Build the parts of a validated configuration.

        Raises:
            ValueError: the configuration is invalid (see ``MachineConfig.validate``).
        """
        config.validate()
        self.config: MachineConfig = config
        self.clock: Clock = Clock()
        self.mem: PhysicalMemory = PhysicalMemory(config.nframes)
        self.mmu: MMU = MMU(self.mem, config.tlb_entries)
        self.cpu: Cpu = Cpu(self.mmu, self.mem)
        self.disk: Disk = Disk(self.clock, config.nsectors, config.elevator)
        self.trap: TrapHandler | None = None
        self.irq: IrqHandler | None = None
        #: Events dispatched by ``step``.
        self.events: int = 0

    def attach(self, trap: TrapHandler, irq: IrqHandler) -> None:
        """Install the kernel's trap and interrupt handlers (the IDT)."""
        self.trap = trap
        self.irq = irq

    def step(self) -> bool:
        """Pop the next event and dispatch it.

        Caller: handlers are attached.

        Returns:
            False when no event is pending.
        """
        irq = self.irq
        if irq is None:
            raise RuntimeError("machine: step() before attach(): no interrupt handler")
        ev = self.clock.pop()
        if ev is None:
            return False
        self.events += 1
        if ev.kind == EV_DISK_DONE:
            req = self.disk.complete()
            irq.handle_disk_irq(req)
        elif ev.kind == EV_TIMER:
            irq.handle_timer(ev.a, ev.b)
        else:
            raise RuntimeError(f"machine: unknown event kind {ev.kind} at {ev.time} ns")
        return True

    def run_until(self, time_ns: int, max_events: int = -1) -> int:
        """Dispatch events up to ``time_ns`` inclusive, at most ``max_events`` of them.

        Stops before the first event later than ``time_ns`` (``clock.now`` is not moved to
        ``time_ns``). A negative ``time_ns`` or ``max_events`` means no limit.

        Returns:
            The number of events dispatched.
        """
        count = 0
        clock = self.clock
        while max_events < 0 or count < max_events:
            t = clock.peek_time()
            if t < 0 or (time_ns >= 0 and t > time_ns):
                break
            self.step()
            count += 1
        return count

    def to_state(self, borrow: bool = False) -> dict[str, object]:
        """Plain-data state of the hardware (config, clock, RAM, MMU, CPU, disk); ``borrow``
        lends RAM's frames and the disk's medium instead of copying them (machine/borrowed.py)."""
        from machine.state_generated import save_clock, save_cpu, save_machine_config, save_mmu

        return {
            "config": save_machine_config(self.config),
            "events": self.events,
            "clock": save_clock(self.clock),
            "mem": self.mem.to_state(borrow),
            "mmu": save_mmu(self.mmu),
            "cpu": save_cpu(self.cpu),
            "disk": self.disk.to_state(borrow),
        }

    @staticmethod
    def from_state(state: dict[str, object]) -> Machine:
        """Rebuild the hardware from ``to_state`` output; handlers must be attached again.

        Raises:
            ValueError: the state is malformed.
        """
        from machine.state_generated import load_clock, load_cpu, load_machine_config, load_mmu

        config = load_machine_config(read_dict(state, "config", _W))
        m = Machine(config)
        m.events = read_int(state, "events", _W)
        m.clock = load_clock(read_dict(state, "clock", _W))
        m.mem = PhysicalMemory.from_state(read_dict(state, "mem", _W))
        if m.mem.nframes != config.nframes:
            raise ValueError("machine state: RAM size disagrees with the configuration")
        m.mmu = load_mmu(read_dict(state, "mmu", _W), m.mem)
        m.cpu = load_cpu(read_dict(state, "cpu", _W), m.mmu, m.mem)
        m.disk = Disk.from_state(read_dict(state, "disk", _W), m.clock)
        return m

    def __repr__(self) -> str:
        return f"<machine {self.config!r} now={self.clock.now} events={self.events}>"
