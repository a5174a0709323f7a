"""Format-6 snapshots taken inside the fs and kernel ops load as frames and run on.

``fixtures/frames-v6-kopssys/NAME@PROFILE@EVENT.vmsnap`` were written by the format-6 model at
event EVENT of the scenario NAME.toml beside them, while tasks slept inside those ops: a read
waiting for its page's I/O, a write throttled in balance_dirty_pages, a fork short of memory,
a parent waiting for its children, nanosleeps, an unlink whose generic_delete_inode waits in
truncate_inode_pages for writeback. Loaded, their stacks are frames
(scenarios/snapshot/migrate_kopssys.py) and, run to the end, they reach the state (hash),
metrics and event count of an uninterrupted run of the same scenario.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from kernelmodel.kernel.frame_classes import FRAME_CLASSES
from kernelmodel.kernel.task import Frame
from scenarios.session import Session
from scenarios.snapshot import load_snapshot, read_snapshot
from scenarios.snapshot.migrate_kopssys import vl_migrate_op_6_to_7

HERE: Final = Path(__file__).parent / "fixtures" / "frames-v6-kopssys"
FILES: Final = sorted(HERE.glob("*.vmsnap"))

#: The ops each fixture holds in flight (class names, on some task's stack).
_IN_FLIGHT: Final = {
    "kops@2.6.6@25": {"ReadOp", "WriteOp", "WaitChildrenOp", "NanosleepOp"},
    "kops-unlink@2.6.6@6": {"UnlinkOp", "DeleteInodeOp"},
    "kops-fork@2.6.6@83": {"ForkOp", "ReadOp", "WriteOp"},
}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_format_6_stack_runs_on_as_frames(path: Path) -> None:
    name, profile, event = path.stem.split("@")
    assert read_snapshot(path)["version"] == 7  # read through the migration
    s = load_snapshot(path)
    assert s.events == int(event)
    held = {type(op).__name__ for t in s.kernel.tasks.values() for op in t.kstack}
    assert _IN_FLIGHT[path.stem] <= held
    assert all(isinstance(op, Frame) for t in s.kernel.tasks.values() for op in t.kstack
               if type(op).__name__ in _IN_FLIGHT[path.stem])
    s.run()
    straight = Session.load(str(HERE / f"{name}.toml"), kernel=profile)
    straight.run()
    assert s.end_reason == straight.end_reason
    assert s.events == straight.events
    assert s.metrics() == straight.metrics()
    assert s.state_hash() == straight.state_hash()


def test_the_fixtures_cover_the_ops() -> None:
    assert {p.stem for p in FILES} == set(_IN_FLIGHT)


def test_every_op_kind_of_format_6_becomes_a_registered_frame() -> None:
    head = {"op": "x", "phase": 1, "result": 0, "is_syscall": True, "is_fault": False}
    for kind in ("file_read", "file_write", "open", "close", "unlink", "delete_inode",
                 "exit_files", "exit", "wait_children", "fork"):
        out = vl_migrate_op_6_to_7({**head, "kind": kind, "ino": 3})
        assert out["frame"] in FRAME_CLASSES and "kind" not in out
        assert list(out)[1:] == ["op", "phase", "result", "is_syscall", "is_fault", "ino"]
    for name, frame in (("nanosleep", "sys_nanosleep"), ("checkpoint", "vl_immediate"),
                        ("verify", "vl_immediate"), ("syscall 99", "vl_immediate")):
        assert vl_migrate_op_6_to_7({**head, "op": name})["frame"] == frame


def test_an_mm_op_or_a_frame_is_left_as_it_was() -> None:
    for op in ({"op": "do_page_fault", "kind": "fault", "phase": 0},
               {"op": "kswapd", "phase": 0, "nr_mapped": 0},
               {"frame": "sys_fsync", "op": "fsync", "phase": 2}):
        assert vl_migrate_op_6_to_7(op) is op


def test_an_op_without_its_head_is_refused() -> None:
    with pytest.raises(ValueError, match="without its"):
        vl_migrate_op_6_to_7({"op": "nanosleep", "ns": 5})
