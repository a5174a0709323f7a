"""Snapshot format 6 -> 7, C order: the writeback frames' phases follow their C source.

Format 7 saves the same frames as format 6 (kernelmodel/kernel/frame_state.py), but the
frames whose ``step`` was rewritten to read in the order of its C function number their
resume points anew, one per point where the C function can sleep or a callee returns:

* ``sys_fsync``: ->fsync calling sync_inode (format 6: phase 3 with ``sync_inode`` set) is
  phase 4 of its own, so filemap_fdatawait returned (4) and up(i_sem) (5) move up by one;
* ``sys_sync``: ``npass`` is gone; the phase says which sync_inodes_sb pass has returned
  (format 6: phase 1 and ``npass`` 0, 1 or 2 -> phases 1, 2, 3);
* ``mpage_writepages``: the checks after wait_on_page_writeback join that phase (4 -> 3),
  ->writepage is 4 (was 5); the 2.6.5 list walk has the tag walk's phases (7..11 -> 1, 2,
  3, 3, 4); a walk that had finished (6, 12) is a lookup with ``done`` set, which returns;
* ``__writeback_single_inode``: the wait on I_LOCK and __sync_single_inode's start are one
  phase (2 -> 1), do_writepages returned is 2 (3 and 4 -> 2), filemap_fdatawait returned is 3
  (5 and 6 -> 3).

The phases a format-6 frame could not be saved in (a step passed through them) are mapped
too, to the phase that does the same from there. Every other frame and op is left as it was:
the other rewritten frames kept their phase numbers.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Final

#: sys_fsync: format-6 phase -> format-7 phase (phase 3 depends on sync_inode, see below).
_FSYNC: Final = {0: 0, 1: 1, 2: 2, 4: 5, 5: 6}
#: mpage_writepages: format-6 phase -> (format-7 phase, done set because it had finished).
_MPAGE: Final = {0: (0, False), 1: (1, False), 2: (2, False), 3: (3, False), 4: (3, False),
                 5: (4, False), 6: (1, True), 7: (1, False), 8: (2, False), 9: (3, False),
                 10: (3, False), 11: (4, False), 12: (1, True)}
#: __writeback_single_inode: format-6 phase -> format-7 phase.
_WSI: Final = {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3}


def _phase(frame: dict[str, object], table: Container[int] = range(13)) -> int:
    """The frame's format-6 phase, which must be one of ``table``'s."""
    phase = frame.get("phase")
    if not isinstance(phase, int) or phase not in table:
        raise ValueError(f"a {frame.get('frame')} frame with phase {phase!r}")
    return phase


def vl_migrate_frame_6_to_7(frame: dict[str, object]) -> dict[str, object]:
    """One saved frame (or older op, returned as it was) in format 7."""
    kind = frame.get("frame")
    out = dict(frame)
    if kind == "sys_fsync":
        phase = _phase(frame)
        out["phase"] = (4 if frame.get("sync_inode") is True else 3) if phase == 3 \
            else _FSYNC[_phase(frame, _FSYNC)]
    elif kind == "sys_sync":
        npass = out.pop("npass", None)
        if not isinstance(npass, int) or not 0 <= npass <= 2:
            raise ValueError(f"a sys_sync frame with npass {npass!r}")
        out["phase"] = 0 if _phase(frame) == 0 else npass + 1
    elif kind == "mpage_writepages":
        out["phase"], done = _MPAGE[_phase(frame, _MPAGE)]
        out["done"] = bool(frame.get("done")) or done
    elif kind == "__writeback_single_inode":
        out["phase"] = _WSI[_phase(frame, _WSI)]
    return out


def vl_migrate_kstack_6_to_7(kstack: list[object]) -> list[object]:
    """A format-6 task stack in format 7."""
    out: list[object] = []
    for f in kstack:
        if not isinstance(f, dict):
            raise ValueError("a kstack entry must be a map")
        out.append(vl_migrate_frame_6_to_7(f))
    return out


def vl_stacks_6_to_7_cwb(state: dict[str, object]) -> None:
    """Every task stack of a format-6 state in format 7, in place."""
    core = state.get("kernel")
    tasks = core.get("tasks") if isinstance(core, dict) else None
    if not isinstance(tasks, list):
        raise ValueError("the kernel state has no task list")
    for t in tasks:
        if not isinstance(t, dict) or not isinstance(t.get("kstack"), list):
            raise ValueError("a task has no kernel stack")
        t["kstack"] = vl_migrate_kstack_6_to_7(t["kstack"])
