"""Swap areas and slot allocation (kernelmodel/mm/swapfile.py) against a counter model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kernelmodel.include.swap import SWAP_MAP_BAD, SWAP_MAP_MAX, SwapState
from kernelmodel.include.swap_generated import (
    load_swap_info_struct,
    load_swap_state,
    save_swap_info_struct,
    save_swap_state,
)
from kernelmodel.mm.pgtable import swp_entry, swp_offset, swp_type
from kernelmodel.mm.swapfile import (
    SWAP_MAGIC,
    SWAPFILE_CLUSTER,
    map_swap_page,
    scan_swap_map,
    swap_entry_free,
    vl_check_swap_map,
    vl_get_swap_page,
    vl_mkswap,
    vl_swap_duplicate,
    vl_swap_free,
    vl_swapon,
)
from machine.clock import Clock
from machine.disk import Disk


def make_area(nr_pages: int, start_sector: int = 800) -> tuple[SwapState, Disk]:
    disk = Disk(Clock(), start_sector + nr_pages * 8 + 8)
    vl_mkswap(disk, start_sector, nr_pages)
    sw = SwapState()
    assert vl_swapon(sw, disk, start_sector, nr_pages * 8) == 0
    return sw, disk


def test_mkswap_header_and_swapon_geometry() -> None:
    sw, disk = make_area(100)
    hdr = disk.read_sectors(800, 8)
    assert hdr[-10:] == SWAP_MAGIC
    assert int.from_bytes(hdr[1028:1032], "little") == 99  # last_page
    si = sw.swap_info[0]
    # 2.6.6: maxpages = last_page, so the last page of the area is never used.
    assert si.max == 99
    assert si.pages == 98
    assert sw.total_swap_pages == sw.nr_swap_pages == 98
    assert si.swap_map[0] == SWAP_MAP_BAD
    assert (si.lowest_bit, si.highest_bit) == (1, 98)
    assert map_swap_page(si, 1) == 808
    assert vl_check_swap_map(sw) == []


def test_second_swapon_of_the_same_area_is_busy() -> None:
    sw, disk = make_area(100)
    assert vl_swapon(sw, disk, 800, 800) < 0
    assert len(sw.swap_info) == 1 and sw.total_swap_pages == 98


def test_swapon_rejects_a_bad_header_and_a_tiny_area() -> None:
    disk = Disk(Clock(), 4096)
    sw = SwapState()
    assert vl_swapon(sw, disk, 0, 800) < 0  # no SWAPSPACE2 magic
    vl_mkswap(disk, 0, 2)
    assert vl_swapon(sw, disk, 0, 16) < 0  # header + one lost page: nothing usable
    assert sw.swap_info == []


def test_entry_encoding_is_the_arch_independent_form() -> None:
    e = swp_entry(0, 1234)
    assert e == 1234 and swp_type(e) == 0 and swp_offset(e) == 1234
    e = swp_entry(3, 7)
    assert swp_type(e) == 3 and swp_offset(e) == 7 and e == (3 << 27) | 7


def test_first_cluster_is_sequential_from_slot_one() -> None:
    sw, _ = make_area(1000)
    got = [vl_get_swap_page(sw) for _ in range(SWAPFILE_CLUSTER + 5)]
    assert got == list(range(1, SWAPFILE_CLUSTER + 6))
    assert vl_check_swap_map(sw) == []


def test_exhausted_cluster_skips_small_holes_for_an_empty_run() -> None:
    sw, _ = make_area(2000)
    si = sw.swap_info[0]
    first = [vl_get_swap_page(sw) for _ in range(600)]
    assert first == list(range(1, 601))
    for off in range(10, 20):  # a hole of 10 slots: too small for a cluster
        vl_swap_free(sw, off)
    si.cluster_nr = 0  # the current cluster is used up
    # scan_swap_map looks for 256 free slots in a row from lowest_bit (10): the first such
    # run starts right after slot 600.
    assert vl_get_swap_page(sw) == 601
    assert vl_check_swap_map(sw) == []


def test_fine_grained_first_fit_when_no_empty_cluster() -> None:
    sw, _ = make_area(300)  # 298 usable slots: never 256 free after a few allocations
    for _ in range(298):
        assert vl_get_swap_page(sw) != 0
    assert vl_get_swap_page(sw) == 0  # full
    si = sw.swap_info[0]
    assert (si.lowest_bit, si.highest_bit) == (si.max, 0)
    for off in (200, 50, 120):
        vl_swap_free(sw, off)
    assert (si.lowest_bit, si.highest_bit) == (50, 200)
    si.cluster_nr = 0
    assert vl_get_swap_page(sw) == 50  # first fit from lowest_bit
    assert vl_get_swap_page(sw) == 120  # then a new cluster continues from 51
    assert vl_get_swap_page(sw) == 200
    assert vl_get_swap_page(sw) == 0
    assert vl_check_swap_map(sw) == []


def test_swap_map_max_sticks() -> None:
    sw, _ = make_area(20)
    e = vl_get_swap_page(sw)
    si = sw.swap_info[0]
    si.swap_map[swp_offset(e)] = SWAP_MAP_MAX - 1
    assert vl_swap_duplicate(sw, e) == 1
    assert si.swap_map[swp_offset(e)] == SWAP_MAP_MAX
    assert sw.swap_overflow == 1
    assert swap_entry_free(sw, si, swp_offset(e)) == SWAP_MAP_MAX  # permanent until swapoff


def test_duplicate_of_a_free_slot_fails() -> None:
    sw, _ = make_area(20)
    assert vl_swap_duplicate(sw, swp_entry(0, 5)) == 0
    assert vl_swap_duplicate(sw, swp_entry(0, 10_000)) == 0


def test_state_round_trip() -> None:
    sw, _ = make_area(500)
    for _ in range(40):
        vl_get_swap_page(sw)
    vl_swap_duplicate(sw, 7)
    vl_swap_free(sw, 3)
    s1 = save_swap_state(sw)
    s2 = save_swap_state(load_swap_state(s1))
    assert s1 == s2
    si = load_swap_info_struct(save_swap_info_struct(sw.swap_info[0]))
    assert si.swap_map == sw.swap_info[0].swap_map


class SwapMapMachine(RuleBasedStateMachine):
    """get_swap_page / swap_duplicate / swap_free against a dict of slot counts."""

    def __init__(self) -> None:
        super().__init__()
        self.sw = SwapState()
        self.model: dict[int, int] = {}
        self.usable = 0

    @initialize(nr_pages=st.integers(min_value=3, max_value=700))
    def setup(self, nr_pages: int) -> None:
        self.sw, _ = make_area(nr_pages)
        self.usable = nr_pages - 2

    @rule()
    def alloc(self) -> None:
        e = vl_get_swap_page(self.sw)
        if len(self.model) == self.usable:
            assert e == 0
            return
        assert e != 0, "get_swap_page failed with free slots left"
        off = swp_offset(e)
        assert 1 <= off <= self.usable and off not in self.model
        self.model[off] = 1

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def dup(self, data: st.DataObject) -> None:
        off = data.draw(st.sampled_from(sorted(self.model)))
        assert vl_swap_duplicate(self.sw, swp_entry(0, off)) == 1
        self.model[off] += 1

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def free(self, data: st.DataObject) -> None:
        off = data.draw(st.sampled_from(sorted(self.model)))
        vl_swap_free(self.sw, swp_entry(0, off))
        self.model[off] -= 1
        if self.model[off] == 0:
            del self.model[off]

    @rule()
    def end_cluster(self) -> None:
        self.sw.swap_info[0].cluster_nr = 0

    @invariant()
    def agrees(self) -> None:
        si = self.sw.swap_info[0]
        for off in range(1, si.max):
            assert si.swap_map[off] == self.model.get(off, 0)
        assert self.sw.nr_swap_pages == self.usable - len(self.model)
        assert vl_check_swap_map(self.sw) == []


TestSwapMap = SwapMapMachine.TestCase
TestSwapMap.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=400))
def test_scan_never_returns_a_used_slot(ops: list[int]) -> None:
    sw, _ = make_area(600)
    si = sw.swap_info[0]
    used: list[int] = []
    for op in ops:
        if op == 0 or not used:
            off = scan_swap_map(sw, si)
            if off:
                assert off not in used
                used.append(off)
        elif op == 1:
            vl_swap_free(sw, swp_entry(0, used.pop(0)))
        else:
            vl_swap_free(sw, swp_entry(0, used.pop()))
    assert vl_check_swap_map(sw) == []
