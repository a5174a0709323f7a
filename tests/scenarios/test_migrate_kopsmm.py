"""Format-6 snapshots taken while the mm ops were in flight load as frames and run on.

``fixtures/frames-v6-kopsmm/NAME@PROFILE@EVENT.vmsnap`` were written by the format-6 model at
event EVENT of NAME (a built-in, or ``midflight.toml`` beside them) on PROFILE: kswapd in the
middle of balance_pgdat (2.6.5, 2.6.6 and 2.6.7 reclaim), a page fault asleep on a swap-in
page, do_truncate waiting for truncate_inode_pages, itself waiting on the partial page's
writeback, and msync inside filemap_write_and_wait. Loaded, their ops are frames
(scenarios/snapshot/migrate_kopsmm.py) and, run to the end, they reach the state of a
straight run, hash for hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from kernelmodel.kernel.task import Frame
from kernelmodel.mm.memory import FaultOp
from kernelmodel.mm.mmap import MmSyscallOp
from kernelmodel.mm.msync import MsyncOp
from kernelmodel.mm.truncate import TruncateInodePagesOp, TruncateOp
from kernelmodel.mm.vmscan import KswapdOp
from scenarios.session import Session
from scenarios.snapshot import load_snapshot
from scenarios.snapshot.migrate_kopsmm import vl_migrate_kstack_6_to_7_kopsmm

HERE: Final = Path(__file__).parent / "fixtures" / "frames-v6-kopsmm"
FILES: Final = sorted(HERE.glob("*.vmsnap"))
_MM = (KswapdOp, FaultOp, TruncateInodePagesOp, TruncateOp, MmSyscallOp, MsyncOp)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_format_6_snapshot_runs_on_to_the_straight_runs_state(path: Path) -> None:
    name, profile, _event = path.stem.split("@")
    s = load_snapshot(path)
    ops = [op for t in s.kernel.tasks.values() for op in t.kstack if isinstance(op, _MM)]
    assert any(isinstance(op, KswapdOp) for op in ops)
    assert all(isinstance(op, Frame) for op in ops)
    s.run()
    straight = Session.load(str(HERE / "midflight.toml") if name == "midflight" else name,
                            kernel=profile)
    straight.run()
    assert s.events == straight.events
    assert s.metrics() == straight.metrics()
    assert s.state_hash() == straight.state_hash()


def test_the_fixtures_cover_each_sleeping_mm_path() -> None:
    seen: set[str] = set()
    for path in FILES:
        s = load_snapshot(path)
        for t in s.kernel.tasks.values():
            for i, op in enumerate(t.kstack):
                if isinstance(op, TruncateOp) and op.pages is not None:
                    assert op.pages is t.kstack[i + 1]
                    seen.add("truncate")
                if isinstance(op, MsyncOp) and op.write is not None:
                    seen.add("msync")
                if isinstance(op, FaultOp) and t.wait_key.startswith("page "):
                    seen.add("fault")
                if isinstance(op, KswapdOp) and op.priority < 12:
                    seen.add(f"kswapd {s.kernel.cfg.vmscan} {s.kernel.cfg.release}")
    assert {"truncate", "msync", "fault", "kswapd 2.6.6 2.6.5", "kswapd 2.6.6 2.6.6",
            "kswapd 2.6.7 2.6.7"} <= seen


def _op(name: str, kind: str | None, phase: int, **fields: object) -> dict[str, object]:
    op: dict[str, object] = {"op": name, "phase": phase, "result": 0, "is_syscall": False,
                             "is_fault": False}
    if kind is not None:
        op["kind"] = kind
    op.update(fields)
    return op


def test_do_truncate_phases_move_past_the_new_call_phase() -> None:
    fields = {"path": "f", "ino": 2, "length": 5000, "pfn": -1}
    calling = _op("do_truncate", "truncate", 3, **fields)
    callee = _op("truncate_inode_pages", "truncate_inode_pages", 2, ino=2, lstart=5000,
                 next=2, pvec=[], cursor=0, locked=False, pfn=40)
    out = vl_migrate_kstack_6_to_7_kopsmm([calling, callee])
    assert [f["frame"] for f in out] == ["do_truncate", "truncate_inode_pages"]
    assert (out[0]["phase"], out[0]["pages"]) == (3, True) and "kind" not in out[0]
    returned = vl_migrate_kstack_6_to_7_kopsmm([calling])[0]
    assert (returned["phase"], returned["pages"]) == (4, False)
    later = vl_migrate_kstack_6_to_7_kopsmm([_op("do_truncate", "truncate", 6, **fields)])
    assert later[0]["phase"] == 7


def test_msync_and_the_syscall_op_name_their_callees() -> None:
    above = {"frame": "filemap_write_and_wait", "op": "filemap_write_and_wait"}
    msync = _op("msync", "msync", 1, inos=[4], ret=0, token=3)
    writing = vl_migrate_kstack_6_to_7_kopsmm([msync, above])[0]
    assert (writing["phase"], writing["write"], writing["iput"]) == (1, True, False)
    written = vl_migrate_kstack_6_to_7_kopsmm([msync])[0]
    assert (written["phase"], written["write"]) == (2, False)
    draining = _op("msync", "msync", 0, inos=[], ret=0, token=3)
    iput = _op("iput", "delete_inode", 0, ino=9)
    assert vl_migrate_kstack_6_to_7_kopsmm([draining, iput])[0]["iput"] is True
    munmap = vl_migrate_kstack_6_to_7_kopsmm([_op("munmap", "mm_syscall", 0), iput])
    assert munmap[0]["frame"] == "mm_syscall" and munmap[0]["iput"] is True
    assert munmap[1] == iput  # an op of another path is left as it was


def test_kswapd_and_the_fault_keep_their_fields() -> None:
    kswapd = _op("kswapd", None, 2, priority=7, total_scanned=99, total_reclaimed=4,
                 do_writepage=True, nr_mapped=0)
    fault = _op("page fault", "fault", 0, address=0x40001000, write=1, maj_flt_at_start=2)
    fault["is_fault"] = True
    out = vl_migrate_kstack_6_to_7_kopsmm([kswapd, fault])
    assert list(out[0]) == ["frame", "op", "phase", "result", "is_syscall", "is_fault",
                            "priority", "total_scanned", "total_reclaimed", "do_writepage",
                            "nr_mapped"]
    assert out[1]["frame"] == "do_page_fault" and out[1]["is_fault"] is True
    nanosleep = _op("nanosleep", None, 1, until=5)
    assert vl_migrate_kstack_6_to_7_kopsmm([nanosleep]) == [nanosleep]
