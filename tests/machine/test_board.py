"""Tests for machine/board.py: configuration checks, event dispatch, run_until, snapshots."""

from __future__ import annotations

import pytest

from machine.board import Machine, MachineConfig
from machine.clock import EV_TIMER
from machine.cpu import RUN_EXITED, CpuContext
from machine.isa import OP_TOUCH, TOUCH_WRITE, Insn
from machine.testing_support import VlFakeIrq, VlFakeTrap

MIB = 1 << 20


def small_config() -> MachineConfig:
    return MachineConfig(mem_bytes=4 * MIB, disk_bytes=8 * MIB, tlb_entries=16)


def booted(config: MachineConfig | None = None) -> tuple[Machine, VlFakeTrap, VlFakeIrq]:
    m = Machine(config if config is not None else small_config())
    trap = VlFakeTrap(m.mem, m.mmu, m.cpu, 1, 2)
    irq = VlFakeIrq(m.clock)
    m.attach(trap, irq)
    return m, trap, irq


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mem_bytes": 4 * MIB + 100}, "mem_bytes"),
        ({"mem_bytes": 0}, "mem_bytes"),
        ({"mem_bytes": (4 << 30) + 4096}, "mem_bytes"),
        ({"disk_bytes": MIB + 512}, "disk_bytes"),
        ({"disk_bytes": 0}, "disk_bytes"),
        ({"tlb_entries": 48}, "tlb_entries"),
        ({"tlb_entries": 0}, "tlb_entries"),
        ({"elevator": "cfq"}, "elevator"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"mem_bytes": 4 * MIB, "disk_bytes": MIB}
    args.update(kwargs)
    config = MachineConfig(**args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"^{field}: ") as info:
        config.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        Machine(config)


def test_valid_configs() -> None:
    MachineConfig(4 << 30, 4096, 1, "noop").validate()
    MachineConfig(4096, 4096).validate()


def test_machine_builds_its_parts() -> None:
    m = Machine(small_config())
    assert m.mem.nframes == 1024
    assert m.mmu.tlb_entries == 16
    assert m.mmu.mem is m.mem and m.cpu.mmu is m.mmu and m.cpu.mem is m.mem
    assert m.disk.nsectors == 8 * MIB // 512
    assert m.disk.clock is m.clock
    assert m.events == 0 and m.trap is None and m.irq is None


def test_step_needs_handlers() -> None:
    m = Machine(small_config())
    with pytest.raises(RuntimeError, match="attach"):
        m.step()


def test_step_dispatches_timers_in_order() -> None:
    m, _, irq = booted()
    assert m.step() is False
    m.clock.schedule(500, EV_TIMER, 2, 20)
    m.clock.schedule(100, EV_TIMER, 1, 10)
    m.clock.schedule(500, EV_TIMER, 3, 30)
    assert m.step() and m.step() and m.step()
    assert m.step() is False
    assert irq.timers == [(100, 1, 10), (500, 2, 20), (500, 3, 30)]
    assert m.events == 3 and m.clock.now == 500


def test_disk_completion_raises_the_disk_interrupt() -> None:
    m, _, irq = booted()
    payload = bytes(range(256)) * 16
    rid = m.disk.submit(64, 8, True, payload, 4213)
    rid2 = m.disk.submit(64, 8, False, b"", 77)
    assert m.run_until(-1, -1) == 2
    assert [(r, c) for _, r, c in irq.disk_done] == [(rid, 4213), (rid2, 77)]
    assert irq.disk_data[1] == payload
    assert m.disk.read_sectors(64, 8) == payload
    assert irq.disk_done[0][0] > 0 and m.clock.now == irq.disk_done[1][0]


def test_run_until_respects_time_and_event_limits() -> None:
    m, _, irq = booted()
    for t in (10, 20, 20, 30, 40):
        m.clock.schedule(t, EV_TIMER, t, 0)
    assert m.run_until(20, -1) == 3
    assert m.clock.now == 20
    assert m.run_until(25, -1) == 0
    assert m.run_until(100, 0) == 0
    assert m.run_until(100, 1) == 1 and m.clock.now == 30
    assert m.run_until(100, 5) == 1
    assert m.run_until(100, 5) == 0
    assert [t for t, _, _ in irq.timers] == [10, 20, 20, 30, 40]


def test_periodic_timer_runs_up_to_the_limit() -> None:
    m, _, irq = booted()
    irq.rearm_ns = 1000
    m.clock.schedule(0, EV_TIMER, 9, 0)
    assert m.run_until(10_500, -1) == 11
    assert irq.timers[-1] == (10_000, 9, 10)
    assert m.clock.pending() == 1


def test_state_round_trip_and_identical_continuation() -> None:
    m, trap, irq = booted()
    ctx = CpuContext(1, [Insn(OP_TOUCH, 0x0800_0000, 5 * 4096, 64, TOUCH_WRITE)])
    assert m.cpu.run(ctx, 1 << 40, trap) == RUN_EXITED
    irq.rearm_ns = 1_000_000
    m.clock.schedule(0, EV_TIMER, 1, 0)
    m.disk.submit(0, 8, True, b"\x5a" * 4096, 1)
    m.disk.submit(4096, 16, False, b"", 2)
    m.disk.submit(8, 8, True, b"\xa5" * 4096, 3)
    m.run_until(-1, 5)
    assert m.disk.queue_depth > 0  # the snapshot catches requests in flight

    state = m.to_state()
    again = Machine.from_state(state)
    assert again.to_state() == state
    irq2 = VlFakeIrq(again.clock)
    irq2.rearm_ns = 1_000_000
    again.attach(VlFakeTrap(again.mem, again.mmu, again.cpu, 1, trap.next_pfn, False), irq2)

    assert m.run_until(-1, 40) == again.run_until(-1, 40) == 40
    assert irq.timers[-len(irq2.timers) :] == irq2.timers
    assert irq.disk_done[-len(irq2.disk_done) :] == irq2.disk_done
    assert len(irq2.disk_done) > 0
    assert m.to_state() == again.to_state()


def test_from_state_rejects_mismatched_ram() -> None:
    state = Machine(small_config()).to_state()
    other = Machine(MachineConfig(8 * MIB, 8 * MIB, 16)).to_state()
    broken = dict(state, mem=other["mem"])
    with pytest.raises(ValueError, match="RAM size"):
        Machine.from_state(broken)
