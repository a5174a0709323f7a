"""Tests for machine/mmu.py: the i386 walk, fault error codes, A/D bits and the TLB."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.bench_support import vl_build_identity_mapping
from machine.mmu import (
    FEC_PROT,
    FEC_USER,
    FEC_WRITE,
    MMU,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_P,
    PTE_RW,
    PTE_US,
    PageFault,
)
from machine.physmem import MachineCheck, PhysicalMemory
from machine.state_generated import load_mmu, save_mmu

PGD = 1  # frame of the page directory
PT = 2  # frame of the page table
VA = 0x0804_8123  # directory index 0x20, table index 0x48, offset 0x123
DATA_PFN = 10
UWR = PTE_P | PTE_RW | PTE_US
PDE_ALL = PTE_P | PTE_RW | PTE_US


def machine(tlb_entries: int = 64) -> tuple[PhysicalMemory, MMU]:
    mem = PhysicalMemory(64)
    mmu = MMU(mem, tlb_entries)
    mmu.load_cr3(PGD << 12)
    return mem, mmu


def pde_addr(vaddr: int) -> int:
    return (PGD << 12) + ((vaddr >> 22) << 2)


def pte_addr(vaddr: int) -> int:
    return (PT << 12) + (((vaddr >> 12) & 0x3FF) << 2)


def map_page(
    mem: PhysicalMemory, vaddr: int, pfn: int, flags: int, pde_flags: int = PDE_ALL
) -> None:
    mem.write_u32(pde_addr(vaddr), (PT << 12) | pde_flags)
    mem.write_u32(pte_addr(vaddr), (pfn << 12) | flags)


def fault_of(mmu: MMU, vaddr: int, write: bool, user: bool) -> int:
    with pytest.raises(PageFault) as info:
        mmu.translate(vaddr, write, user)
    assert info.value.vaddr == vaddr
    return info.value.error_code


def test_translate_maps_and_keeps_offset() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123
    assert mmu.probe(VA + 4, True, True) == (DATA_PFN << 12) | 0x127


def test_directory_and_table_indices() -> None:
    mem, mmu = machine()
    # Two addresses in different 4 MiB regions use different PDEs and page tables.
    vb = 0xBFFF_F000
    mem.write_u32(pde_addr(vb), (3 << 12) | PDE_ALL)
    mem.write_u32((3 << 12) + (0x3FF << 2), (20 << 12) | UWR)
    map_page(mem, VA, DATA_PFN, UWR)
    assert mmu.translate(vb + 0xABC, True, True) == (20 << 12) | 0xABC
    assert mmu.translate(VA, True, True) == (DATA_PFN << 12) | 0x123


@pytest.mark.parametrize(
    ("write", "user", "code"),
    [
        (False, False, 0),
        (True, False, FEC_WRITE),
        (False, True, FEC_USER),
        (True, True, FEC_WRITE | FEC_USER),
    ],
)
def test_not_present_pde(write: bool, user: bool, code: int) -> None:
    mem, mmu = machine()
    mem.write_u32(pde_addr(VA), (PT << 12) | PTE_RW | PTE_US)  # P clear
    assert fault_of(mmu, VA, write, user) == code
    assert mem.read_u32(pde_addr(VA)) == (PT << 12) | PTE_RW | PTE_US  # not used: no A


@pytest.mark.parametrize(
    ("write", "user", "code"),
    [
        (False, False, 0),
        (True, False, FEC_WRITE),
        (False, True, FEC_USER),
        (True, True, FEC_WRITE | FEC_USER),
    ],
)
def test_not_present_pte(write: bool, user: bool, code: int) -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, 0)
    # A non-zero not-present PTE (a swap entry) faults the same way.
    mem.write_u32(pte_addr(VA), 0x0001_2302)
    assert fault_of(mmu, VA, write, user) == code
    assert mmu.fault_vaddr == VA and mmu.fault_error == code
    # The walk used the present PDE before the PTE faulted: the PDE is accessed, the PTE
    # is untouched.
    assert mem.read_u32(pde_addr(VA)) == (PT << 12) | PDE_ALL | PTE_A
    assert mem.read_u32(pte_addr(VA)) == 0x0001_2302


@pytest.mark.parametrize(
    ("pde_flags", "pte_flags", "write", "user", "code"),
    [
        # user write to a read-only user page
        (PDE_ALL, PTE_P | PTE_US, True, True, FEC_PROT | FEC_WRITE | FEC_USER),
        # supervisor write to a read-only page (CR0.WP = 1)
        (PDE_ALL, PTE_P | PTE_US, True, False, FEC_PROT | FEC_WRITE),
        (PDE_ALL, PTE_P, True, False, FEC_PROT | FEC_WRITE),
        # user read and write of a supervisor page
        (PDE_ALL, PTE_P | PTE_RW, False, True, FEC_PROT | FEC_USER),
        (PDE_ALL, PTE_P | PTE_RW, True, True, FEC_PROT | FEC_WRITE | FEC_USER),
        # PDE RW = 0 with PTE RW = 1: writes fault in both modes
        (PTE_P | PTE_US, UWR, True, True, FEC_PROT | FEC_WRITE | FEC_USER),
        (PTE_P | PTE_US, UWR, True, False, FEC_PROT | FEC_WRITE),
        # PDE US = 0 with PTE US = 1: user accesses fault
        (PTE_P | PTE_RW, UWR, False, True, FEC_PROT | FEC_USER),
    ],
)
def test_protection_faults(
    pde_flags: int, pte_flags: int, write: bool, user: bool, code: int
) -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, pte_flags, pde_flags)
    assert fault_of(mmu, VA, write, user) == code
    # A protection fault at the PTE sets neither A nor D in the PTE and leaves nothing in
    # the TLB; the PDE the walk used is accessed.
    assert mem.read_u32(pde_addr(VA)) == (PT << 12) | pde_flags | PTE_A
    assert mem.read_u32(pte_addr(VA)) == (DATA_PFN << 12) | pte_flags
    assert mmu.tlb_entry(VA) is None


@pytest.mark.parametrize(
    ("pde_flags", "pte_flags", "write", "user"),
    [
        (PDE_ALL, PTE_P | PTE_US, False, True),  # user read of a read-only page
        (PDE_ALL, PTE_P, False, False),  # supervisor read of a supervisor page
        (PDE_ALL, PTE_P | PTE_RW, True, False),  # supervisor write of a supervisor page
        (PTE_P | PTE_US, UWR, False, True),  # PDE RW = 0 still allows reads
    ],
)
def test_allowed_accesses(pde_flags: int, pte_flags: int, write: bool, user: bool) -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, pte_flags, pde_flags)
    assert mmu.translate(VA, write, user) == (DATA_PFN << 12) | 0x123


def test_walk_sets_accessed_and_dirty() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    assert mem.read_u32(pde_addr(VA)) & PTE_A
    pte = mem.read_u32(pte_addr(VA))
    assert pte == (DATA_PFN << 12) | UWR | PTE_A  # read: A, no D
    mmu.invlpg(VA)
    mmu.translate(VA, True, True)
    assert mem.read_u32(pte_addr(VA)) == (DATA_PFN << 12) | UWR | PTE_A | PTE_D


def test_write_through_clean_entry_walks_again_to_set_dirty() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    entry = mmu.tlb_entry(VA)
    assert entry is not None and entry[1] & PTE_D == 0
    walks = mmu.page_walks
    assert mmu.translate(VA, True, True) == (DATA_PFN << 12) | 0x123
    assert mmu.page_walks == walks + 1
    assert mem.read_u32(pte_addr(VA)) & PTE_D
    entry = mmu.tlb_entry(VA)
    assert entry is not None and entry[1] & PTE_D
    mmu.translate(VA, True, True)  # now dirty in the TLB: no walk
    assert mmu.page_walks == walks + 1


def test_dirty_rewalk_rereads_the_pte_and_may_fault() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), 0)  # unmapped in memory, no invlpg
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123  # stale read hit
    assert fault_of(mmu, VA, True, True) == FEC_WRITE | FEC_USER  # the re-walk faults
    assert mmu.tlb_entry(VA) is None  # the fault dropped the entry
    assert fault_of(mmu, VA, False, True) == FEC_USER


def test_dirty_rewalk_picks_up_a_new_frame() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), (DATA_PFN + 1) << 12 | UWR)
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123
    assert mmu.translate(VA, True, True) == ((DATA_PFN + 1) << 12) | 0x123


def test_dirty_pte_is_cached_dirty() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR | PTE_A | PTE_D)
    mmu.translate(VA, False, True)
    walks = mmu.page_walks
    mmu.translate(VA, True, True)
    assert mmu.page_walks == walks


def test_stale_tlb_until_invlpg() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, True, True)
    mem.write_u32(pte_addr(VA), 0)
    assert mmu.translate(VA, True, True) == (DATA_PFN << 12) | 0x123
    assert mmu.translate(VA, False, False) == (DATA_PFN << 12) | 0x123
    mmu.invlpg(VA)
    assert fault_of(mmu, VA, True, True) == FEC_WRITE | FEC_USER


def test_stale_tlb_until_cr3_reload() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), (DATA_PFN + 5) << 12 | UWR)
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123
    mmu.load_cr3(PGD << 12)  # same directory: still a flush
    assert mmu.translate(VA, False, True) == ((DATA_PFN + 5) << 12) | 0x123


def test_stale_tlb_until_flush() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), 0)
    mmu.translate(VA, False, True)
    mmu.flush_tlb()
    assert fault_of(mmu, VA, False, True) == FEC_USER


def test_invlpg_of_another_page_keeps_the_entry() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), 0)
    mmu.invlpg(VA + 0x1000)
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123


def test_global_entries_survive_cr3_load_and_flush() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR | PTE_G)
    mmu.translate(VA, False, True)
    entry = mmu.tlb_entry(VA)
    assert entry is not None and entry[1] & PTE_G
    mem.write_u32(pte_addr(VA), 0)
    mmu.load_cr3(PGD << 12)
    mmu.flush_tlb()
    assert mmu.translate(VA, False, True) == (DATA_PFN << 12) | 0x123
    mmu.flush_tlb_global()
    assert fault_of(mmu, VA, False, True) == FEC_USER


def test_invlpg_drops_a_global_entry() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR | PTE_G)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), 0)
    mmu.invlpg(VA)
    assert fault_of(mmu, VA, False, False) == 0


def test_permissions_are_checked_on_tlb_hits() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, PTE_P | PTE_US)  # read-only user page
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), (DATA_PFN << 12) | UWR)  # made writable, no flush
    hits = mmu.tlb_hits
    assert fault_of(mmu, VA, True, True) == FEC_PROT | FEC_WRITE | FEC_USER
    assert mmu.tlb_hits == hits + 1
    # The fault dropped the stale entry, so the retry walks and succeeds (a spurious fault).
    assert mmu.translate(VA, True, True) == (DATA_PFN << 12) | 0x123
    assert mem.read_u32(pte_addr(VA)) & PTE_D


def test_user_access_to_cached_supervisor_entry_faults() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, PTE_P | PTE_RW)
    mmu.translate(VA, True, False)
    assert mmu.tlb_entry(VA) is not None
    assert fault_of(mmu, VA, False, True) == FEC_PROT | FEC_USER


def test_counters() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.probe(VA, False, True)
    mmu.probe(VA, False, True)
    mmu.probe(VA, False, True)
    mmu.probe(VA + 0x1000, False, True)  # not present: miss, walk, fault
    assert (mmu.tlb_hits, mmu.tlb_misses, mmu.page_walks) == (2, 2, 2)
    mmu.invlpg(VA)
    mmu.flush_tlb()
    assert (mmu.invlpgs, mmu.tlb_flushes) == (1, 2)  # load_cr3 flushed once


def test_probe_reports_faults_without_raising() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, PTE_P | PTE_US)
    assert mmu.probe(VA, True, True) == -1
    assert mmu.fault_vaddr == VA
    assert mmu.fault_error == FEC_PROT | FEC_WRITE | FEC_USER
    assert mmu.probe(VA, False, True) == (DATA_PFN << 12) | 0x123


def test_direct_mapped_tlb_aliasing() -> None:
    mem, mmu = machine(tlb_entries=1)
    map_page(mem, VA, DATA_PFN, UWR)
    map_page(mem, VA + 0x1000, DATA_PFN + 1, UWR)
    for _ in range(3):
        mmu.translate(VA, False, True)
        mmu.translate(VA + 0x1000, False, True)
    assert mmu.tlb_misses == 6 and mmu.tlb_hits == 0
    _, big = machine(tlb_entries=64)
    assert big.tlb_entries == 64


@pytest.mark.parametrize("n", [0, 3, 6, -4])
def test_tlb_entries_must_be_a_power_of_two(n: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        MMU(PhysicalMemory(1), n)


def test_load_cr3_must_be_page_aligned() -> None:
    _, mmu = machine()
    with pytest.raises(ValueError):
        mmu.load_cr3(0x1004)


def test_frame_beyond_ram_is_a_machine_check() -> None:
    mem, mmu = machine()
    map_page(mem, VA, 64, UWR)
    with pytest.raises(MachineCheck):
        mmu.translate(VA, False, True)


def test_tlb_entry_and_walk_noset() -> None:
    mem, mmu = machine()
    assert mmu.walk_noset(VA) == (0, 0)
    mem.write_u32(pde_addr(VA), 0x0000_3000)  # not present, junk frame bits
    assert mmu.walk_noset(VA) == (0x3000, 0)
    map_page(mem, VA, DATA_PFN, UWR)
    assert mmu.tlb_entry(VA) is None
    counters = (mmu.tlb_hits, mmu.tlb_misses, mmu.page_walks)
    assert mmu.walk_noset(VA) == ((PT << 12) | PDE_ALL, (DATA_PFN << 12) | UWR)
    assert (mmu.tlb_hits, mmu.tlb_misses, mmu.page_walks) == counters
    assert mmu.tlb_entry(VA) is None
    assert mem.read_u32(pte_addr(VA)) & PTE_A == 0
    mmu.translate(VA, True, True)
    assert mmu.tlb_entry(VA) == (DATA_PFN, UWR | PTE_A | PTE_D)
    assert mmu.tlb_entry(VA + 0x1000) is None


def test_state_round_trip_keeps_stale_entries() -> None:
    mem, mmu = machine()
    map_page(mem, VA, DATA_PFN, UWR)
    mmu.translate(VA, False, True)
    mem.write_u32(pte_addr(VA), 0)
    state = save_mmu(mmu)
    mem2 = PhysicalMemory.from_state(mem.to_state())
    again = load_mmu(state, mem2)
    assert save_mmu(again) == state
    assert again.translate(VA, False, True) == (DATA_PFN << 12) | 0x123
    with pytest.raises(ValueError):
        load_mmu(dict(state, tlb_vpn=[0]), mem2)


def test_identity_mapping_helper() -> None:
    mem = PhysicalMemory(256)
    mmu = MMU(mem)
    mem.zero_frame(1)
    mmu.load_cr3(1 << 12)
    # 40 pages from 0x003F_0000 cross a 4 MiB boundary: two page tables.
    next_pt = vl_build_identity_mapping(mem, mmu, 0x003F_0000, 40, 100, 2)
    assert next_pt == 4
    next_pt = vl_build_identity_mapping(mem, mmu, 0x0800_0000, 2, 10, next_pt)
    assert next_pt == 5
    assert mmu.translate(0x003F_0000, True, True) == 100 << 12
    assert mmu.translate(0x0040_0008, True, True) == (116 << 12) | 8
    assert mmu.probe(0x003F_0000 + 40 * 4096, False, True) == -1
    assert mmu.translate(0x0800_1004, False, True) == (11 << 12) | 4


# ---- property test: with a flush after every change, translate agrees with the walk rules ----

_VPNS = [0x08048, 0x08049, 0x08448, 0xBFFFF]  # two share a page table, two have their own


def ref_translate(
    pdes: dict[int, int], ptes: dict[int, int], vpn: int, write: bool, user: bool
) -> int:
    """The architectural rules written out plainly: paddr, or -(1 + error code)."""
    wu = (FEC_WRITE if write else 0) | (FEC_USER if user else 0)
    pde = pdes.get(vpn >> 10, 0)
    if not pde & PTE_P:
        return -(1 + wu)
    pte = ptes.get(vpn, 0)
    if not pte & PTE_P:
        return -(1 + wu)
    if user and not (pde & pte & PTE_US):
        return -(1 + (FEC_PROT | wu))
    if write and not (pde & pte & PTE_RW):
        return -(1 + (FEC_PROT | wu))
    return (pte & 0xFFFFF000) | 0x10


def ref_set_bits(
    pdes: dict[int, int], ptes: dict[int, int], vpn: int, write: bool, ok: bool
) -> None:
    """The walk's A/D writes: A in a present PDE once it is used (also when the PTE then
    faults); A in the PTE, and D for a write, only when the access is allowed."""
    key = vpn >> 10
    if not pdes.get(key, 0) & PTE_P:
        return
    pdes[key] |= PTE_A
    if ok:
        ptes[vpn] |= PTE_A | (PTE_D if write else 0)


_flags = st.sampled_from([0, PTE_P, PTE_P | PTE_RW, PTE_P | PTE_US, UWR, UWR | PTE_G])
_step = st.one_of(
    st.tuples(st.just("pte"), st.sampled_from(_VPNS), _flags),
    st.tuples(st.just("pde"), st.sampled_from(_VPNS), _flags),
    st.tuples(st.just("access"), st.sampled_from(_VPNS), st.integers(0, 3)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_step, max_size=40), st.sampled_from([1, 2, 64]))
def test_translate_matches_reference_walk(steps: list[tuple[str, int, int]], tlb: int) -> None:
    mem = PhysicalMemory(64)
    mmu = MMU(mem, tlb)
    mmu.load_cr3(PGD << 12)
    pt_of = {0x08048 >> 10: 2, 0x08448 >> 10: 3, 0xBFFFF >> 10: 4}
    pdes: dict[int, int] = {}
    ptes: dict[int, int] = {}
    for kind, vpn, arg in steps:
        vaddr = (vpn << 12) | 0x10
        if kind == "pde":
            value = (pt_of[vpn >> 10] << 12) | arg
            pdes[vpn >> 10] = value
            mem.write_u32((PGD << 12) + ((vpn >> 10) << 2), value)
            mmu.flush_tlb_global()
        elif kind == "pte":
            value = ((20 + _VPNS.index(vpn)) << 12) | arg
            ptes[vpn] = value
            mem.write_u32((pt_of[vpn >> 10] << 12) + ((vpn & 0x3FF) << 2), value)
            mmu.invlpg(vaddr)
        else:
            write, user = bool(arg & 1), bool(arg & 2)
            want = ref_translate(pdes, ptes, vpn, write, user)
            got = mmu.probe(vaddr, write, user)
            if want >= 0:
                assert got == want
            else:
                assert got == -1 and mmu.fault_error == -want - 1
                assert mmu.fault_vaddr == vaddr
            # The A/D bits in memory are the reference's (a TLB hit writes nothing, but the
            # walk that filled the entry already set what the reference sets).
            ref_set_bits(pdes, ptes, vpn, write, want >= 0)
            for key, value in pdes.items():
                assert mem.read_u32((PGD << 12) + (key << 2)) == value
            for key, value in ptes.items():
                assert mem.read_u32((pt_of[key >> 10] << 12) + ((key & 0x3FF) << 2)) == value
    assert mmu.tlb_hits + mmu.tlb_misses == sum(1 for s in steps if s[0] == "access")
