"""The inspection layer (kernelmodel/inspect/) agrees with the live kernel: its page walk with
the MMU's, its classification of every frame of a live kernel with its classification of the
same kernel's snapshot, and the profile table with the dashboard's label."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelmodel.include.mm_types import VM_MAYSHARE, VM_READ, VM_SHARED
from kernelmodel.include.page import PageSwapCache
from kernelmodel.inspect.frame_state import (
    HOLDS_ANON,
    HOLDS_FILE,
    MAPPING_SWAPPER,
    vl_frame_class,
    vl_frame_states,
    vl_mapping_kind,
)
from kernelmodel.inspect.saved import (
    vl_saved_frame_classes,
    vl_saved_frames,
    vl_saved_mapping_kinds,
    vl_saved_swap_entries,
    vl_saved_user_ptes,
)
from kernelmodel.inspect.vma import vl_vma_perms
from kernelmodel.inspect.walk import vl_mm_user_ptes, vl_page_walk, vl_pte_text
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.mm.pgtable import pte_to_swp_entry, swp_entry, swp_entry_to_pte, vl_read_pte
from kernelmodel.mm.swapcache_fields import page_swp_entry
from scenarios.profiles import DESIGNS, PROFILES, kernel_label, profile_spec
from scenarios.session import Session
from scenarios.snapshot import read_snapshot, save_snapshot

#: (built-in, profile, where to stop): anonymous memory under fork, shared file mappings on
#: pte chains, and the swap cache in both of its forms (2.6.5's mapping/index, 2.6.6's
#: private), each stopped where those frames first exist.
CASES = (
    ("fork-cow", "2.6.7", "cow_faults > 0"),
    ("shared-file-mmap", "2.6.6", "nr_mapped > 100"),
    ("swap-storm", "2.6.5", "pswpout > 0"),
    ("swap-storm", "2.6.7", "pswpout > 0"),
)


def _session(name: str, profile: str, until: str) -> Session:
    s = Session.load(name, kernel=profile)
    assert s.run_until(until) == "predicate"
    if s.suspended_at is not None:
        s.finish_event()  # between two events, where the dashboard and snapshots look
    return s


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def live(request: pytest.FixtureRequest) -> Session:
    name, profile, until = request.param
    return _session(name, profile, until)


def test_every_frame_classified_alike_live_and_from_its_snapshot(live: Session,
                                                                 tmp_path: Path) -> None:
    k = live.kernel
    path = tmp_path / "s.vmsnap"
    save_snapshot(live, path)
    state = read_snapshot(path)["state"]
    pages = k.mem_map.pages
    assert vl_saved_mapping_kinds(state) == [vl_mapping_kind(p) for p in pages]
    assert vl_saved_frame_classes(state) == [vl_frame_class(p) for p in pages]
    assert bytes(c[0] for c in vl_saved_frame_classes(state)) == vl_frame_states(k)
    # the run reached the frames the cases are chosen for
    holds = {c[2] for c in vl_saved_frame_classes(state)}
    assert (HOLDS_FILE if live.scenario.name == "shared-file-mmap" else HOLDS_ANON) in holds


def test_swap_entries_read_from_the_field_the_kernel_uses(live: Session) -> None:
    k = live.kernel
    entries = vl_saved_swap_entries(k.to_state())
    swapped = [p for p in k.mem_map.pages if PageSwapCache(p)]
    for page in swapped:
        assert entries[page.pfn] == page_swp_entry(k, page)
    if "swap" in live.scenario.name:
        assert swapped
        swapper = [vl_mapping_kind(p) == MAPPING_SWAPPER for p in swapped]
        assert all(swapper) if k.cfg.release == "2.6.5" else not any(swapper)


def _mapped_addresses(k: Kernel, mm_id: int) -> list[int]:
    mm = k.mm_registry.mms[mm_id]
    out: list[int] = []
    for vma in mm.mmap:
        out += range(vma.vm_start, vma.vm_end, 4096)
    return out


def test_page_walk_agrees_with_the_mmu(live: Session) -> None:
    """Every address of every mm walks to the pte the kernel reads (``vl_read_pte``), and the
    directory in CR3 (a live mm's, or one a kernel thread borrowed) to the MMU's own
    (``walk_noset``)."""
    k = live.kernel
    mmu = k.machine.mmu
    mem = k.machine.mem
    cr3_pgd = mmu.cr3 >> 12
    present = 0
    for mm in k.mm_registry.mms.values():
        for va in [*_mapped_addresses(k, mm.mm_id), 0, 0xBFFFF000, 0xC0000000]:
            walk = vl_page_walk(mem, mm.pgd, va)
            assert walk.pte == vl_read_pte(mem, mm.pgd, va)
            present += walk.frame >= 0
            in_cr3 = vl_page_walk(mem, cr3_pgd, va)
            assert (in_cr3.pde, in_cr3.pte) == mmu.walk_noset(va)
    assert present > 0


def test_user_ptes_of_live_and_saved_ram_agree_with_single_walks(live: Session) -> None:
    k = live.kernel
    frames = vl_saved_frames(k.to_state())
    for mm in k.mm_registry.mms.values():
        ptes = vl_mm_user_ptes(k.machine.mem, mm.pgd)
        assert ptes == vl_saved_user_ptes(frames, mm.pgd)
        for va, pte in ptes:
            assert vl_page_walk(k.machine.mem, mm.pgd, va).pte == pte


def test_pte_words_decode_swap_entries_with_the_kernels_helpers() -> None:
    entry = swp_entry(3, 0x12345)
    pte = swp_entry_to_pte(entry)
    assert pte_to_swp_entry(pte) == entry
    assert vl_pte_text(pte) == "swap entry type 3 offset 74565"
    assert vl_pte_text(0) == "none"
    assert vl_pte_text(0x1234_5067) == "frame 0x12345 [P RW US A D]"


def test_vma_perms_say_shared_for_a_read_only_shared_mapping() -> None:
    assert vl_vma_perms(VM_READ | VM_MAYSHARE) == "r--s"
    assert vl_vma_perms(VM_READ | VM_SHARED) == "r--p"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_dashboard_label_reads_the_one_profile_table(profile: str) -> None:
    spec = profile_spec(profile)
    label = kernel_label(spec)
    writeback, rmap = PROFILES[profile]
    assert label.startswith(f"kernel {profile} ({writeback} + {rmap}: ")
    for d in DESIGNS:
        assert getattr(spec, d.switch) == d.profile[profile]
