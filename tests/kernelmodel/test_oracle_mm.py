"""Tests for the process-memory data oracle (kernelmodel/oracle/oracle_mm.py)."""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mm_support import access, load, make_kernel, mm_of, new_task

from kernelmodel.include.syscall_abi import MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from kernelmodel.kernel.fork import dup_mm
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import Task
from kernelmodel.mm.mmap import do_mmap_pgoff, do_munmap
from kernelmodel.mm.pgtable import pte_pfn, vl_read_pte
from kernelmodel.oracle.oracle_mm import (
    oracle_note_store,
    vl_oracle_fork,
    vl_verify_memory,
)
from kernelmodel.oracle.oracle_page import (
    MAX_STROKES,
    VlOraclePage,
    vl_words_from_bytes,
    vl_words_to_bytes,
)
from kernelmodel.oracle.state_generated import load_vl_mm_oracle

BASE = 0x40000000


def _setup(pages: int = 8) -> tuple[Kernel, Task]:
    k = make_kernel()
    t = new_task(k)
    r = do_mmap_pgoff(k, mm_of(k, t), -1, 0, BASE, pages << 12, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_FIXED, 0)
    assert r == BASE
    return k, t


def _frame(k: Kernel, t: Task, vaddr: int) -> int:
    return pte_pfn(vl_read_pte(k.machine.mem, mm_of(k, t).pgd, vaddr))


def _held_in_full(k: Kernel, t: Task, vaddr: int, value: int) -> None:
    """Stores to the page of ``vaddr`` (``value`` at ``vaddr``, last) that no description of
    MAX_STROKES strokes fits: the oracle holds the page's words."""
    page = vaddr & ~0xFFF
    for i in range(MAX_STROKES):
        assert access(k, t, page + 0x800 + 8 * i, True, 0x5A5A0000 + i)
    assert access(k, t, vaddr, True, value)
    assert k.mm_oracle.mms[t.mm_id][vaddr >> 12].words is not None


def test_fork_shares_expected_pages_until_a_store() -> None:
    k, t = _setup()
    assert access(k, t, BASE, True, 0x11)
    mm = mm_of(k, t)
    child = dup_mm(k, mm)
    assert child is not None
    vl_oracle_fork(k, mm.mm_id, child.mm_id)
    o = k.mm_oracle
    page = o.mms[mm.mm_id][BASE >> 12]
    assert o.mms[child.mm_id][BASE >> 12] is page and page.refs == 2
    assert access(k, t, BASE + 4, True, 0x22)
    assert o.mms[mm.mm_id][BASE >> 12] is not page and page.refs == 1
    assert page.expected_words()[1] == 0 and o.mms[mm.mm_id][BASE >> 12].expected_words()[1] == 0x22
    assert vl_verify_memory(k) == []


def test_unaligned_and_page_crossing_stores() -> None:
    """Through the real CPU, which splits a store across two frames."""
    from test_mm_e2e import expect, mmap, run_checked, store, syscall

    from kernelmodel.include.syscall_abi import VL_VERIFY

    k = make_kernel()
    prog = k.add_program("p", [
        mmap(BASE, 8 << 12),
        store(BASE + 0xFFE, 0xA1B2C3D4),
        expect(BASE + 0xFFC, 0xC3D40000),
        expect(BASE + 0x1000, 0x0000A1B2),
        store(BASE + 0x2001, 0x01020304),
        expect(BASE + 0x2000, 0x02030400),
        syscall(VL_VERIFY),
    ])
    pid = k.spawn("p", prog)
    run_checked(k)
    ctx = k.tasks[pid].ctx
    assert ctx is not None and ctx.loads_checked == 3 and ctx.load_mismatches == 0
    assert k.verify_failures == 0


def test_verify_finds_a_corrupted_frame_and_a_dirty_zero_page() -> None:
    k, t = _setup()
    assert access(k, t, BASE + 8, True, 5)
    assert load(k, t, BASE + 0x1000) == 0
    mem = k.machine.mem
    mem.write_u32((_frame(k, t, BASE) << 12) + 16, 9)
    out = vl_verify_memory(k)
    assert len(out) == 1 and "holds 0x09, expected 0x00" in out[0]
    mem.write_u32((_frame(k, t, BASE) << 12) + 16, 0)
    mem.write_u32(k.zero_page.pfn << 12, 1)
    out = vl_verify_memory(k)
    assert len(out) == 1 and "unwritten page" in out[0]
    mem.write_u32(k.zero_page.pfn << 12, 0)
    assert vl_verify_memory(k) == []


def test_munmap_forgets_and_lost_pages_are_reported() -> None:
    k, t = _setup()
    for i in range(4):
        assert access(k, t, BASE + (i << 12), True, i + 1)
    mm = mm_of(k, t)
    assert do_munmap(k, mm, BASE + 0x1000, 0x2000) == 0
    assert sorted(k.mm_oracle.mms[mm.mm_id]) == [BASE >> 12, (BASE >> 12) + 3]
    assert vl_verify_memory(k) == []
    k.machine.mem.write_u32(vl_pte_addr(k, t, BASE + 0x3000), 0)  # lose the page behind its back
    assert any("data lost" in line for line in vl_verify_memory(k))


def vl_pte_addr(k: Kernel, t: Task, vaddr: int) -> int:
    from kernelmodel.mm.pgtable import pte_offset_map

    return pte_offset_map(k.machine.mem, mm_of(k, t).pgd, vaddr)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8 * 1024 - 1).map(lambda w: w * 4),
                          st.integers(0, 0xFFFFFFFF), st.booleans()), min_size=1, max_size=40))
def test_oracle_round_trip_keeps_sharing(stores: list[tuple[int, int, bool]]) -> None:
    """Aligned stores (the test's access helper does not split page-crossing ones)."""
    k, t = _setup()
    tasks = [t]
    for off, value, fork in stores:
        who = tasks[value % len(tasks)]
        assert access(k, who, BASE + off, True, value)
        if fork and len(tasks) < 4:
            mm = dup_mm(k, mm_of(k, who))
            assert mm is not None
            vl_oracle_fork(k, who.mm_id, mm.mm_id)
            child = k.new_task("c", k.add_program("c", []), who.pid)
            child.mm_id = mm.mm_id
            tasks.append(child)
    assert vl_verify_memory(k) == []
    s = k.mm_oracle.to_state(k)
    back = load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)
    k.mm_oracle = back
    assert back.to_state(k) == s
    for mm_id, table in k.mm_oracle.mms.items():
        for vpn, page in table.items():
            twin = back.mms[mm_id][vpn]
            assert twin.refs == page.refs and twin.words == page.words and \
                twin.strokes == page.strokes


def test_state_names_the_frame_unless_the_frame_differs() -> None:
    """A page held in full whose frame holds its bytes is stored as the frame; one whose
    frame does not (a model bug the oracle exists to catch) keeps its own bytes, and still
    catches it."""
    k, t = _setup()
    for i in range(3):
        _held_in_full(k, t, BASE + (i << 12), i + 1)
    s = k.mm_oracle.to_state(k)
    assert s["described"] == []
    frames = [_frame(k, t, BASE + (i << 12)) for i in range(3)]
    assert s["page_ids"] == [] and s["on_disk"] == []
    assert s["in_frame"][1::2] == frames
    k.machine.mem.write_u32(frames[1] << 12, 0xBAD)
    s = k.mm_oracle.to_state(k)
    assert s["in_frame"][1::2] == [frames[0], frames[2]] and len(s["page_ids"]) == 1
    back = load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)
    assert back.mms[t.mm_id][(BASE >> 12) + 1].expected_words()[0] == 2
    k.mm_oracle = back
    assert back.to_state(k) == s
    assert f"{BASE + 4096:#010x}: holds 0xad, expected 0x02" in "\n".join(vl_verify_memory(k))


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["in_frame"].__setitem__(1, 1 << 30), "outside RAM"),
    (lambda s: s["in_frame"].extend(s["in_frame"][:2]), "stored twice"),
    (lambda s: s["in_frame"].pop(), "[key, place, ...]"),
    (lambda s: s["on_disk"].extend([99, 0]), "in no table"),
    (lambda s: s["on_disk"].extend([99, -8]), "outside the disk"),
    (lambda s: s["in_frame"].__setitem__(0, 0), "positive"),
    (lambda s: s.__setitem__("next_page_id", 1), "below next_page_id"),
])
def test_damaged_page_places_are_refused(change: Callable[[dict[str, Any]], object],
                                         message: str) -> None:
    k, t = _setup()
    _held_in_full(k, t, BASE, 7)
    s = k.mm_oracle.to_state(k)
    change(s)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)


def test_described_pages_are_a_few_ints_and_catch_a_corrupted_frame() -> None:
    """Pages that only touch stores reached are kept as strokes, never as bytes: a store
    over the same words replaces the older stroke; the frame is still compared byte for
    byte, and the state holds the strokes (restored exactly)."""
    from kernelmodel.oracle.oracle_mm import oracle_note_store_run

    k, t = _setup()
    assert access(k, t, BASE, True, 0x1234)
    vpn = BASE >> 12
    stamp = 0xCAFE0000
    key = (stamp ^ BASE) & 0xFFFFFFFF
    run = array("I", [(stamp ^ (BASE + 4 * w)) & 0xFFFFFFFF for w in range(1024)])
    k.machine.mem.words[(_frame(k, t, BASE) << 10):(_frame(k, t, BASE) << 10) + 1024] = run
    oracle_note_store_run(k, t, BASE, 4, run)
    page = k.mm_oracle.mms[t.mm_id][vpn]
    assert page.words is None and page.strokes == [key, 0, 1, 1024]
    assert page.expected_words() == run and vl_verify_memory(k) == []
    assert access(k, t, BASE + 8, True, 0x77)
    assert page.strokes == [key, 0, 1, 1024, 0x77 ^ 8, 2, 1, 1]
    s = k.mm_oracle.to_state(k)
    assert s["described"] == [page.page_id, 2, key, 0, 1, 1024, 0x77 ^ 8, 2, 1, 1]
    assert s["page_data"] == [] and s["in_frame"] == []
    back = load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)
    assert back.mms[t.mm_id][vpn].strokes == page.strokes and back.to_state(k) == s
    k.machine.mem.write_u32((_frame(k, t, BASE) << 12) + 4092, 0)
    out = vl_verify_memory(k)
    want = (key ^ 4092) & 0xFF
    assert want != 0
    assert len(out) == 1 and f"{BASE + 4092:#010x}: holds 0x00, expected {want:#04x}" in out[0]


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["described"].append(5), "[page id, n, strokes ...]"),
    (lambda s: s["described"].__setitem__(1, 2), "[page id, n, strokes ...]"),
    (lambda s: s["described"].__setitem__(3, 1024), "a bad stroke"),
    (lambda s: s["described"].__setitem__(2, 1 << 32), "a bad stroke"),
    (lambda s: s["described"].__setitem__(5, 0), "a bad stroke"),
    (lambda s: s["described"].__setitem__(2, True), "must hold ints"),
    (lambda s: s["described"].extend(s["described"]), "stored twice"),
])
def test_damaged_descriptions_are_refused(change: Callable[[dict[str, Any]], object],
                                          message: str) -> None:
    k, t = _setup()
    assert access(k, t, BASE + 12, True, 7)
    s = k.mm_oracle.to_state(k)
    assert s["described"] == [1, 1, 7 ^ 12, 3, 1, 1]
    change(s)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_vl_mm_oracle(s, k.machine.mem, k.machine.disk)


def test_note_store_outside_any_vma_is_ignored() -> None:
    k, t = _setup()
    oracle_note_store(k, t, 0x10000000, 5)
    assert k.mm_oracle.mms.get(t.mm_id, {}) == {}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 0xFFFFFFFF), min_size=1024, max_size=1024))
def test_page_bytes_are_little_endian_on_every_host(words: list[int]) -> None:
    """A page serialises as 1024 little-endian u32 on any host: the host-order path and the
    byte-swapping path (what a big-endian host takes) both give the same bytes back."""
    le = struct.pack("<1024I", *words)
    page = VlOraclePage(1, vl_words_from_bytes(le))
    assert page.expected_words().tolist() == words and page.to_bytes() == le
    # the other host order: words held byte-swapped, swapped again on the way out and in
    swapped = array("I", words)
    swapped.byteswap()
    assert vl_words_to_bytes(swapped, swap=True) == vl_words_to_bytes(page.expected_words(),
                                                                      swap=False)
    assert vl_words_from_bytes(le, swap=True) == swapped
    assert vl_words_to_bytes(vl_words_from_bytes(le, swap=True), swap=True) == le


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 1023), st.sampled_from([4, 8, 12, 64]),
                          st.integers(1, 64), st.integers(0, 0xFFFFFFFF), st.booleans()),
                min_size=1, max_size=12))
def test_a_store_run_records_what_single_stores_record(
    runs: list[tuple[int, int, int, int, int, bool]]
) -> None:
    """oracle_note_store_run (the CPU's touch runs) against one oracle_note_store per word,
    across fresh pages, pages shared with a forked child (copy-on-write) and reused pages."""
    from kernelmodel.oracle.oracle_mm import oracle_note_store_run

    def build() -> tuple[Kernel, Task, Task]:
        k, t = _setup()
        mm = mm_of(k, t)
        child = dup_mm(k, mm)
        assert child is not None
        vl_oracle_fork(k, mm.mm_id, child.mm_id)
        c = new_task(k, "c")
        c.mm_id = child.mm_id
        return k, t, c

    def contents(k: Kernel) -> dict[int, dict[int, tuple[int, int, list[int]]]]:
        return {mm_id: {vpn: (p.page_id, p.refs, p.expected_words().tolist())
                        for vpn, p in table.items()}
                for mm_id, table in k.mm_oracle.mms.items()}

    ka, ta, ca = build()
    kb, tb, cb = build()
    for page, word, stride, n, stamp, in_child in runs:
        n = min(n, (1024 - word - 1) * 4 // stride + 1)
        vaddr = BASE + (page << 12) + 4 * word
        # a touch's stamps (one stroke) on even pages, any values on odd ones
        values = array("I", [(stamp ^ (vaddr + i * stride)) & 0xFFFFFFFF if page % 2 == 0
                             else (stamp + 7 * i) & 0xFFFFFFFF for i in range(n)])
        oracle_note_store_run(ka, ca if in_child else ta, vaddr, stride, values)
        for i in range(n):
            oracle_note_store(kb, cb if in_child else tb, vaddr + i * stride, values[i])
    assert contents(ka) == contents(kb)
    assert ka.mm_oracle.stores == kb.mm_oracle.stores
