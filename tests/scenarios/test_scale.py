"""Big machines: a pte naming the last frame of 4 GiB, the boot of a 4 GiB machine, and the
``scale`` workload of ``vmlab bench`` at a tiny size."""

from __future__ import annotations

import pytest

from kernelmodel.check.check import check_invariants
from machine.i386 import PAGE_SIZE, PTE_P, PTE_RW, PTE_US
from machine.mmu import MMU
from machine.physmem import PhysicalMemory
from scenarios.bench_scale import rss_bytes, scale_text, scale_workload
from scenarios.benchmark import WORKLOADS
from scenarios.loader import load_text
from scenarios.session import Session

FRAMES_4G = 1 << 20


def test_the_last_frame_of_4_gib_is_reachable_through_a_pte() -> None:
    """A pte's frame number has 20 bits: frame 0xFFFFF (above 2 GiB, the pte's top bit set)
    is mapped, written and read back; untouched RAM costs the host nothing."""
    before = rss_bytes()
    mem = PhysicalMemory(FRAMES_4G)
    assert rss_bytes() - before < 64 << 20  # the 4 GiB are not written at creation
    mmu = MMU(mem, 64)
    mem.zero_frame(1)
    mem.zero_frame(2)
    mmu.load_cr3(1 * PAGE_SIZE)
    mem.write_u32(1 * PAGE_SIZE, 2 * PAGE_SIZE | PTE_P | PTE_RW | PTE_US)
    top = FRAMES_4G - 1
    mem.write_u32(2 * PAGE_SIZE + 4 * 5, (top << 12) | PTE_P | PTE_RW | PTE_US)
    paddr = mmu.translate(5 * PAGE_SIZE + 0x10, True, True)
    assert paddr == (top << 12) + 0x10
    mem.write_u32(paddr, 0xCAFEF00D)
    assert mem.read_u32((4 << 30) - PAGE_SIZE + 0x10) == 0xCAFEF00D
    assert not mem.frame_is_zero(top) and mem.frame_is_zero(top - 1)


@pytest.mark.slow
def test_a_4_gib_machine_boots_with_every_frame_accounted() -> None:
    s = Session(load_text(scale_text(4096), "scale-4g"))
    k = s.kernel
    zone = k.pgdat.zone
    assert k.mem_map.nframes == FRAMES_4G
    assert zone.spanned_pages == FRAMES_4G
    assert zone.free_area[10].nr_free > 1000  # mostly order-10 blocks
    assert check_invariants(k) == []
    s.run(until_events=200)
    assert check_invariants(k) == []


def test_scale_workload_boots_and_swaps_a_small_machine() -> None:
    assert "scale" in WORKLOADS
    boot, storm = scale_workload(((16, 1_000_000_000),))
    assert boot.unit == "boots/s" and boot.seconds > 0
    assert storm.unit == "events/s" and storm.ops == storm.counters["events"] > 0
    assert storm.counters["pswpout"] > 0 and storm.counters["rss"] > 0
    assert storm.counters["ram_mib"] == 16
