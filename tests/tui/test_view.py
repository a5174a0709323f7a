"""The dashboard's model views, recorder and driver, without Textual."""

from __future__ import annotations

import pytest

from kernelmodel.include.mm_types import AnonVma
from kernelmodel.include.page import PageAnon
from kernelmodel.inspect.frame_state import FS_ANON, FS_FREE, vl_frame_states
from scenarios.schema import KernelSpec
from scenarios.session import Session
from tests.tui.snapshot_app import PAUSED_AT, make_session
from tui.driver import MODE_CHECKPOINT, MODE_PAUSED, MODE_RUN, MODE_TIME, SimDriver
from tui.recorder import SERIES, Recorder, sample_interval, vmstat_interval
from tui.view import (
    hexdump,
    kernel_label,
    page_info,
    page_walk,
    parse_address,
    pte_bits_text,
    task_rows,
    task_vmas,
)
from tui.view_io import (
    EventFilter,
    EventRec,
    disk_info,
    event_text,
    file_rows,
    fmt_time,
    radix_nodes,
    resolve_event,
    tagged_counts,
)

BASE = 0x4000_0000


def _session_at(events: int = PAUSED_AT) -> tuple[Session, SimDriver]:
    s = make_session()
    drv = SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns))
    drv.step(events)
    return s, drv


@pytest.fixture(scope="module")
def paused() -> Session:
    return _session_at()[0]


def test_kernel_label_names_profile_and_design() -> None:
    label = kernel_label(KernelSpec(profile="2.6.7", writeback="tags", rmap="anon_vma"))
    assert label == "kernel 2.6.7 (tags + anon_vma: the 2.6.6-cycle design, shipped in 2.6.7)"
    other = kernel_label(KernelSpec(profile="2.6.6", writeback="tags", rmap="anon_vma"))
    assert other.startswith("kernel 2.6.6 (tags + anon_vma") and "switches" in other
    reclaim = kernel_label(KernelSpec(profile="2.6.7", vmscan="2.6.6"))
    assert "vmscan 2.6.6" in reclaim and "switches" in reclaim


def _first(states: bytes, state: int) -> int:
    pfn = states.find(bytes([state]))
    assert pfn >= 0
    return pfn


def test_anonymous_page_reverse_map_finds_both_forked_ptes(paused: Session) -> None:
    k = paused.kernel
    states = vl_frame_states(k)
    shared = -1
    for pfn in range(len(states)):
        page = k.mem_map.pages[pfn]
        if states[pfn] == FS_ANON and page._mapcount == 2:
            shared = pfn
            break
    assert shared >= 0, "the fork left no shared anonymous page"
    info = page_info(k, shared)
    assert info.state == "anon" and "anon" in info.flag_names
    assert info.rmap_head.startswith("anon_vma #")
    mapping = k.mem_map.pages[shared].mapping
    assert isinstance(mapping, AnonVma)
    mapped = [e for e in info.rmap if e.maps_page and e.pte >> 12 == shared]
    assert len(mapped) == 2
    assert {e.mm_id for e in mapped} == {k.tasks[5].mm_id, k.tasks[6].mm_id}
    for e in mapped:
        assert k.machine.mem.read_u32(e.ptep) == e.pte
        assert BASE <= e.address < BASE + (256 << 10)


def _shared_anon_page_under(rmap: str) -> tuple[Session, int]:
    """The tiny scenario on the given reverse map, paused where the fork shares a page."""
    from dataclasses import replace

    from scenarios.library import load_scenario
    from tests.tui.snapshot_app import TINY

    sc = load_scenario(str(TINY))
    s = Session(replace(sc, kernel=KernelSpec(profile="2.6.7", writeback="tags", rmap=rmap)))
    SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns)).step(PAUSED_AT)
    k = s.kernel
    for page in k.mem_map.pages:
        if PageAnon(page) and page._mapcount == 2:
            return s, page.pfn
    raise AssertionError("the fork left no shared anonymous page")


def test_anonmm_page_shows_its_bundle_at_one_address() -> None:
    s, pfn = _shared_anon_page_under("anonmm")
    k = s.kernel
    info = page_info(k, pfn)
    assert info.rmap_head.startswith("anonmm #") and "bundle of" in info.rmap_head
    assert dict(info.fields)["mapping"].startswith("anonmm #")
    assert info.role.startswith("anonymous memory at 0x")
    mapped = [e for e in info.rmap if e.maps_page and e.pte >> 12 == pfn]
    assert len(mapped) == 2 and len({e.address for e in mapped}) == 1


def test_pte_chain_anonymous_page_has_no_mapping() -> None:
    s, pfn = _shared_anon_page_under("pte_chain")
    info = page_info(s.kernel, pfn)
    assert dict(info.fields)["mapping"] == "NULL"
    assert info.role == "anonymous memory (pte chains: page->mapping is NULL)"
    assert info.rmap_head.startswith("pte_chain: ")


def test_file_page_names_its_file_and_index(paused: Session) -> None:
    k = paused.kernel
    pfn = -1
    for p in k.mem_map.pages:
        if p.mapping is not None and not PageAnon(p) and p._count > 0:
            pfn = p.pfn
            break
    assert pfn >= 0
    info = page_info(k, pfn)
    assert "log" in dict(info.fields)["mapping"]
    assert info.rmap_head.startswith("file log (inode")
    assert info.role.startswith("page cache of inode")


def test_free_kernel_and_page_table_frames_say_what_they_are(paused: Session) -> None:
    k = paused.kernel
    states = vl_frame_states(k)
    free = _first(states, FS_FREE)
    assert "buddy block" in page_info(k, free).role
    assert page_info(k, k.zero_page.pfn).role.startswith("empty_zero_page")
    pt_pfn, mm_id = next(iter(k.mm_registry.pt_owner.items()))
    role = page_info(k, pt_pfn).role
    assert role.startswith(f"page table of mm #{mm_id}") and "0x40000000" in role
    pgd = k.mm_registry.mms[mm_id].pgd
    assert page_info(k, pgd).role.startswith(f"page directory of mm #{mm_id}")
    assert page_info(k, 0).role.startswith("reserved")


def test_page_walk_agrees_with_the_reverse_map(paused: Session) -> None:
    k = paused.kernel
    walk = page_walk(k, 5, BASE + 0x123)
    assert walk.frame >= 0
    assert any(line.startswith("PDE @") for line in walk.lines)
    assert any(line.startswith("PTE @") for line in walk.lines)
    assert walk.lines[-1].startswith("TLB")
    info = page_info(k, walk.frame)
    assert any(e.address == BASE and e.mm_id == k.tasks[5].mm_id for e in info.rmap)
    unmapped = page_walk(k, 5, 0x1000)
    assert unmapped.frame == -1 and "not present" in unmapped.lines[2]
    assert page_walk(k, 1, BASE).frame == -1  # pdflush: a kernel thread


def test_tasks_and_vmas(paused: Session) -> None:
    k = paused.kernel
    rows = {r.pid: r for r in task_rows(k)}
    assert rows[1].kthread and not rows[4].kthread
    assert rows[4].name == "writer" and "fsync" in rows[4].what
    assert rows[5].rss > 0
    vmas = task_vmas(k, 5)
    assert [(v.vm_start, v.perms) for v in vmas] == [(BASE, "rw-p")]
    assert vmas[0].backing.startswith("anon (anon_vma #")
    assert task_vmas(k, 1) == [] and task_vmas(k, 999) == []


def test_address_parsing_and_bits() -> None:
    assert parse_address("0x4000_0000") == BASE
    assert parse_address("40000000") == BASE
    assert parse_address("#4096") == 4096
    for bad in ("", "zz", "0x100000000"):
        with pytest.raises(ValueError):
            parse_address(bad)
    assert pte_bits_text(0x67) == "P RW US A D"
    assert pte_bits_text(0) == "-"


def test_hexdump_collapses_repeats() -> None:
    data = bytes(4096)
    assert hexdump(data) == ["000  " + " ".join(["00"] * 8) + "  " + " ".join(["00"] * 8)
                             + "  |................|", "*", "1000"]
    narrow = hexdump(b"AB" + bytes(4094), per_line=8)
    assert narrow[0].endswith("|AB......|") and narrow[1] == "008  " + " ".join(
        ["00"] * 4) + "  " + " ".join(["00"] * 4) + "  |........|"
    assert hexdump(bytes(range(256)) * 16, max_lines=4)[-1] == "..."


def test_radix_nodes_match_tags_and_file_rows(paused: Session) -> None:
    k = paused.kernel
    rows = {r.path: r for r in file_rows(k)}
    log = rows["log"]
    mapping = k.sb.s_inodes[log.ino].i_mapping
    nodes, skipped = radix_nodes(mapping.page_tree)
    assert skipped == 0 and len(nodes) == int(mapping.page_tree.nr_nodes)
    leaves = [n for n in nodes if n.level == 1]
    assert sum(n.count for n in leaves) == mapping.nrpages == log.nrpages
    assert sum(n.slots.count("o") + n.slots.count("D") + n.slots.count("W")
               + n.slots.count("B") for n in leaves) == mapping.nrpages
    assert (log.dirty, log.writeback) == tagged_counts(mapping.page_tree)
    assert log.writeback == k.vmstat.nr_writeback > 0
    assert sum(n.writeback for n in leaves) == log.writeback
    root = nodes[0]
    assert root.depth == 0 and root.first == 0
    if root.level > 1:
        assert "W" in root.slots or "B" in root.slots


def test_radix_nodes_skip_past_the_limit(paused: Session) -> None:
    mapping = next(i for i in paused.kernel.sb.s_inodes.values() if i.vl_path == "log").i_mapping
    nodes, skipped = radix_nodes(mapping.page_tree, max_nodes=0)
    assert nodes == [] and skipped == int(mapping.page_tree.nr_nodes)


def test_disk_info(paused: Session) -> None:
    info = disk_info(paused.kernel)
    assert info.in_service is not None and info.in_service.write
    assert info.queue and all(q.write for q in info.queue)
    assert 0 <= info.head < info.nsectors and info.swap_start > 0


def _ev(kind: str, pid: int = 4, a: int = 0, b: int = 0, s: str = "", comm: str = "writer",
        file: str = "", pfn: int = -1) -> EventRec:
    return EventRec(1, 1_500_000, kind, pid, a, b, s, comm, file, pfn)


def test_event_filter_terms() -> None:
    dirty = _ev("dirty", a=0x1a3, b=7, file="log", pfn=0x1a3)
    wb = _ev("writeback_end", a=0x1a4, b=8, file="log", pfn=0x1a4)
    other = _ev("syscall", pid=5, s="nanosleep", comm="toucher")
    fsync = _ev("fsync_begin", a=2, s="log", file="log")
    evs = [dirty, wb, other, fsync]

    def keep(text: str) -> list[EventRec]:
        flt = EventFilter.parse(text)
        return [e for e in evs if flt.matches(e)]

    assert keep("") == evs and not EventFilter.parse("").active
    assert keep("kind:dirty") == [dirty]
    assert keep("kind:writeback,dirty") == [dirty, wb]
    assert keep("task:toucher") == [other] == keep("task:5") == keep("pid:5")
    assert keep("file:log") == [dirty, wb, fsync]
    assert keep("frame:0x1a3") == [dirty] == keep("pfn:419")
    assert keep("nanosleep") == [other]
    assert keep("file:log kind:fsync") == [fsync]
    for bad in ("colour:red", "frame:xyz", "kind:"):
        with pytest.raises(ValueError):
            EventFilter.parse(bad)


def test_event_text_and_time() -> None:
    assert fmt_time(1_234_567_891) == "1.234567s"
    assert event_text(_ev("dirty", a=0x10, b=3, file="log")) == \
        "0.001500s #1 4 writer dirty pfn 0x10 index 3 log"
    assert event_text(_ev("io_complete", pid=-1, a=8, b=16, s="W", comm="", file="log")) == \
        "0.001500s #1 irq io_complete W sector 8 +16 log"


def test_fault_unmap_and_reclaim_records_read_in_words_and_filter_by_frame(
        paused: Session) -> None:
    k = paused.kernel
    fault = resolve_event(k, 1, 10, "fault", 4, BASE + 0x1000, 1, "anon minor")
    unmap = resolve_event(k, 2, 10, "unmap", 4, BASE, 0x1a3, "zap page mm 1")
    swap_pte = resolve_event(k, 3, 10, "unmap", 4, BASE, -1, "zap swap mm 1")
    decided = resolve_event(k, 4, 10, "reclaim_page", -1, 0x1a3, 2, "kept: locked")
    refill = resolve_event(k, 5, 10, "refill_page", -1, 0x1a4, 0, "deactivated: not mapped")
    out = resolve_event(k, 6, 10, "swap_out", 4, 0x1a3, 0x2c, "swap_writepage")
    assert event_text(fault).endswith("fault 0x40001000 anon minor")
    assert event_text(unmap).endswith("unmap 0x40000000 pfn 0x1a3 zap page mm 1")
    assert event_text(swap_pte).endswith("unmap 0x40000000 zap swap mm 1")
    assert event_text(decided).endswith("reclaim_page pfn 0x1a3 kept: locked")
    assert event_text(refill).endswith("refill_page pfn 0x1a4 deactivated: not mapped")
    assert event_text(out).endswith("swap_out pfn 0x1a3 swap entry 0x2c")
    flt = EventFilter.parse("frame:0x1a3")
    evs = [fault, unmap, swap_pte, decided, refill, out]
    assert [e for e in evs if flt.matches(e)] == [unmap, decided, out]


def test_recorder_samples_do_not_depend_on_slicing() -> None:
    a, da = _session_at(0)
    b, db = _session_at(0)
    da.step(PAUSED_AT)
    for _ in range(PAUSED_AT):
        db.step(1)
    assert a.state_hash() == b.state_hash()
    ra, rb = da.recorder, db.recorder
    assert list(ra.times) == list(rb.times) and len(ra.times) > 3
    for name in SERIES:
        assert list(ra.series[name]) == list(rb.series[name])
    assert [e.seq for e in ra.drain()] == [e.seq for e in rb.drain()]
    assert ra.disk_ops == rb.disk_ops


def test_recorder_intervals_and_events() -> None:
    s, drv = _session_at(0)
    rec = drv.recorder
    assert rec.sample_ns == sample_interval(s.scenario.duration_ns) == 5_000_000
    assert rec.interval_ns == vmstat_interval(s.scenario.duration_ns) == 100_000_000
    assert vmstat_interval(20_000_000_000) == 1_000_000_000
    assert rec.deltas() == {}
    drv.step(60)
    new = rec.drain()
    assert new and new[0].seq <= new[-1].seq
    assert any(e.kind == "dirty" and e.file == "log" for e in rec.events)
    assert any(e.kind == "io_complete" and e.file == "log" and e.pid == -1 for e in rec.events)
    assert rec.deltas() and "nr_dirty" in rec.deltas()
    assert rec.disk_ops
    nbytes, window = rec.throughput(rec.interval_ns * 4)
    assert nbytes > 0 and window > 0


class _FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def test_driver_modes() -> None:
    s, drv = _session_at(0)
    assert drv.run_slice(1.0).ran == 0  # paused
    drv.start(MODE_RUN)
    # the fake clock advances a second per reading: the budget is spent at the first pause
    # point (or event end); an event paused there goes on in the next slices until it ends
    ran = [drv.run_slice(0.5, _FakeClock()).ran]
    while s.in_event:
        ran.append(drv.run_slice(0.5, _FakeClock()).ran)
    assert ran == [0] * (len(ran) - 1) + [1] and s.events == 1 and drv.mode == MODE_RUN
    drv.speed_index = 0
    drv.faster()
    assert drv.speed == 2
    drv.slower()
    drv.slower()
    assert drv.speed == 1
    drv.start(MODE_CHECKPOINT)
    seen = len(s.checkpoints)
    while drv.mode != MODE_PAUSED:
        drv.run_slice(10.0)
    assert len(s.checkpoints) == seen + 1 and drv.last_stop == "checkpoint"
    target = s.sim_time_ns + 30_000_000
    drv.start(MODE_TIME, target_ns=target)
    while drv.mode != MODE_PAUSED:
        drv.run_slice(10.0)
    assert drv.last_stop == "time" and s.sim_time_ns <= target
    assert s.kernel.machine.clock.peek_time() > target
    drv.start(MODE_RUN)
    drv.speed_index = 12
    while drv.mode != MODE_PAUSED:
        drv.run_slice(10.0)
    assert drv.last_stop == "end" and drv.ended
    assert drv.step(5).ran == 0


def test_a_suspended_event_is_not_the_end() -> None:
    """writeback-order's writer is its only task: suspended inside its slice, no event is
    queued, yet the run has not ended (the status line said "ended" there)."""
    s = Session.load("writeback-order")
    drv = SimDriver(s, Recorder(s.kernel, s.scenario.duration_ns))
    s.step_until("tag", path="big")
    s.step_until("tag", path="big")
    assert s.suspended_at is not None and s.kernel.machine.clock.peek_time() < 0
    assert not drv.ended
    s.finish_event()
    assert not drv.ended
