"""Format-5 snapshots taken inside fsync, sync and pdflush writeback load as frames and run on.

``fixtures/frames-v5/NAME@PROFILE@EVENT.vmsnap`` were written by the format-5 model at event
EVENT of the built-in NAME on PROFILE, while tasks slept deep in those paths (an fsync inside
mpage_writepages, sync(2) inside __writeback_single_inode's wait, pdflush inside
background_writeout, on the tag walks and the 2.6.5 list walks). Loaded, they become stacks of
frames (scenarios/snapshot/migrate_frames.py) and, run to the end, give the metrics, event count and
outcome the uninterrupted run records in the behaviour baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pytest

from scenarios.snapshot import load_snapshot
from scenarios.snapshot.migrate_frames import vl_migrate_kstack_5_to_6
from scenarios.standing import PASS, expectations_at_end
from tests.scenarios.fixtures.make_behaviour import BASELINE

HERE: Final = Path(__file__).parent / "fixtures" / "frames-v5"
FILES: Final = sorted(HERE.glob("*.vmsnap"))
_RECORDED: dict[str, dict[str, object]] = json.loads(BASELINE.read_text())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_format_5_stack_runs_on_as_frames(path: Path) -> None:
    name, profile, _event = path.stem.split("@")
    s = load_snapshot(path)
    deepest = max(len(t.kstack) for t in s.kernel.tasks.values())
    assert deepest >= 2  # an op with nested frames became a stack of frames
    s.run()
    want = _RECORDED[f"{name}@{profile}"]
    assert s.metrics() == want["metrics"]
    assert s.events == want["events"]
    passed = all(st.outcome == PASS for st in expectations_at_end(s, s.metrics()))
    assert passed == want["passed"]


def test_the_fixtures_cover_the_deep_paths() -> None:
    assert len(FILES) >= 4


def test_an_op_of_another_path_is_left_as_it_was() -> None:
    op: dict[str, object] = {"op": "read", "kind": "read", "phase": 2, "result": 0}
    assert vl_migrate_kstack_5_to_6([op]) == [op]


def test_fsync_inside_mpage_writepages_becomes_three_frames() -> None:
    walk = {"host": 5, "phase": 2, "index": 3, "scanned": True, "done": False, "ret": 0,
            "pvec": [40, 41], "i": 1, "bio_pages": [], "bio_sector": -1,
            "last_block_in_bio": 0, "visited": 2, "written": 0}
    wbc = {"sync_mode": 1, "nr_to_write": 8}
    fsync = {"op": "fsync", "phase": 2, "result": 0, "is_syscall": True, "is_fault": False,
             "path": "log", "datasync": False, "ino": 5, "start_ns": 7, "token": 1, "ret": 0,
             "visited": 0, "write": {"host": 5, "wbc": wbc, "walk": walk, "ret": 0},
             "sync_inode": None, "sync_wbc": None, "wait": None}
    out = vl_migrate_kstack_5_to_6([fsync])
    assert [f["frame"] for f in out] == ["sys_fsync", "__filemap_fdatawrite",
                                         "mpage_writepages"]
    assert out[0]["write"] is True and out[0]["is_syscall"] is True
    assert out[1]["wbc"] == wbc and out[1]["walk"] is True
    assert out[2]["wbc"] == "caller" and out[2]["pvec"] == [40, 41] and out[2]["phase"] == 2
