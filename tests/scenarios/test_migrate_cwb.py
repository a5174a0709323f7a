"""Format-6 snapshots taken inside the writeback frames load as format 7 and run on.

``fixtures/frames-v6-cwb/NAME@PROFILE@EVENT.vmsnap`` were written by the format-6 model
(make_frames_v6.py) at event EVENT of the built-in NAME on PROFILE, while tasks slept or
yielded in sys_fsync, sys_sync, mpage_writepages (tag and 2.6.5 list walks),
wait_on_page_writeback_range, __writeback_single_inode, sync_sb_inodes,
balance_dirty_pages, background_writeout, wb_kupdate and pdflush: together every (frame,
phase) the built-ins reach. Loaded, their phases are renumbered
(scenarios/snapshot/migrate_cwb.py) and, run to the end, they give the metrics, event count,
outcome and final state hash of the uninterrupted run (the behaviour baseline).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pytest

from scenarios.snapshot import load_snapshot
from scenarios.snapshot.migrate_cwb import vl_migrate_frame_6_to_7, vl_migrate_kstack_6_to_7
from scenarios.standing import PASS, expectations_at_end
from tests.scenarios.fixtures.make_behaviour import BASELINE

HERE: Final = Path(__file__).parent / "fixtures" / "frames-v6-cwb"
FILES: Final = sorted(HERE.glob("*.vmsnap"))
_RECORDED: dict[str, dict[str, object]] = json.loads(BASELINE.read_text())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_format_6_stack_runs_on_to_the_straight_runs_end(path: Path) -> None:
    name, profile, _event = path.stem.split("@")
    s = load_snapshot(path)
    assert any(op.KIND for t in s.kernel.tasks.values() for op in t.kstack)
    s.run()
    want = _RECORDED[f"{name}@{profile}"]
    assert s.metrics() == want["metrics"]
    assert s.events == want["events"]
    assert s.state_hash() == want["state_hash"]
    passed = all(st.outcome == PASS for st in expectations_at_end(s, s.metrics()))
    assert passed == want["passed"]


def test_the_fixtures_cover_every_renumbered_frame() -> None:
    assert len(FILES) >= 4


def _frame(kind: str, phase: int, **fields: object) -> dict[str, object]:
    return {"frame": kind, "op": kind, "phase": phase, "result": 0, "is_syscall": False,
            "is_fault": False, **fields}


def test_fsync_in_its_fsync_step_is_phase_3_or_4_by_its_sync_inode_call() -> None:
    before = _frame("sys_fsync", 3, sync_inode=False)
    calling = _frame("sys_fsync", 3, sync_inode=True)
    assert vl_migrate_frame_6_to_7(before)["phase"] == 3
    assert vl_migrate_frame_6_to_7(calling)["phase"] == 4
    assert vl_migrate_frame_6_to_7(_frame("sys_fsync", 4, sync_inode=False))["phase"] == 5
    assert vl_migrate_frame_6_to_7(_frame("sys_fsync", 5, sync_inode=False))["phase"] == 6


def test_sync_says_its_pass_by_its_phase_and_drops_npass() -> None:
    out = vl_migrate_frame_6_to_7(_frame("sys_sync", 1, token=3, npass=2, wbc=None,
                                         sb_frame=True))
    assert out["phase"] == 3 and "npass" not in out
    assert list(out)[-3:] == ["token", "wbc", "sb_frame"]
    start = vl_migrate_frame_6_to_7(_frame("sys_sync", 0, token=0, npass=0, wbc=None,
                                           sb_frame=False))
    assert start["phase"] == 0


def test_mpage_list_walk_phases_become_the_tag_walks() -> None:
    got = [vl_migrate_frame_6_to_7(_frame("mpage_writepages", p, done=False))["phase"]
           for p in (7, 8, 9, 11, 5)]
    assert got == [1, 2, 3, 4, 4]
    finished = vl_migrate_frame_6_to_7(_frame("mpage_writepages", 12, done=False))
    assert finished["phase"] == 1 and finished["done"] is True


def test_an_op_or_unchanged_frame_is_left_as_it_was() -> None:
    op: dict[str, object] = {"op": "read", "kind": "read", "phase": 2, "result": 0}
    pd = _frame("pdflush", 2, fn=1, arg0=0, when_i_went_to_sleep=5, bw=True, ku=False)
    assert vl_migrate_kstack_6_to_7([op, pd]) == [op, pd]


def test_a_phase_format_6_never_had_is_refused() -> None:
    with pytest.raises(ValueError, match="phase 13"):
        vl_migrate_frame_6_to_7(_frame("mpage_writepages", 13, done=False))
