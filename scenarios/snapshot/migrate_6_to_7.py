"""Snapshot format 6 -> 7: every sleeping kernel path is a frame of the one protocol.

Format 6 still saved most system calls, exit, wait, fork, kswapd, the page fault, truncation
and the memory syscalls as ops that saved themselves. Format 7 saves every entry of a task's
stack as a declared frame (kernelmodel/kernel/frame_state.py, one registry of kinds). The
step rewrites each task's stack in place, one topic at a time (each topic's module says what
it maps):

* migrate_kopssys.py: the fs and kernel ops (read, write, open, close, unlink, inode deletion,
  exit, wait, fork, nanosleep, the calls that complete at once);
* migrate_kopsmm.py: kswapd, the page fault, truncation, the memory syscalls and msync;
* migrate_cwb.py: the writeback frames, whose resume points were renumbered when each came to
  read in the order of its C function.

The topics touch disjoint entries, so their order does not matter.
"""

from __future__ import annotations

from scenarios.snapshot.migrate_cwb import vl_stacks_6_to_7_cwb
from scenarios.snapshot.migrate_kopsmm import vl_stacks_6_to_7_kopsmm
from scenarios.snapshot.migrate_kopssys import vl_migrate_stacks_6_to_7


def vl_stacks_6_to_7(state: dict[str, object]) -> None:
    """Rewrite every task's stack of a format-6 state as format 7, in place.

    Caller: ``_migrate_6_to_7``, and a migration below format 6 that restores a state with
    this vmlab's restorer (after ``migrate_frames.vl_stacks_as_frames``).
    """
    vl_migrate_stacks_6_to_7(state)
    vl_stacks_6_to_7_kopsmm(state)
    vl_stacks_6_to_7_cwb(state)


def _migrate_6_to_7(doc: dict[str, object]) -> dict[str, object]:
    """Format 6 -> 7 (``vl_stacks_6_to_7``).

    A compact file's described pages are filled in first (the hash covers them), so the
    migrated map is a full one. The old state must match its hash first; the new hash is
    computed over the new state.
    """
    from scenarios.snapshot.described import fill
    from scenarios.state_codec import state_digest

    fill(doc)
    doc["described"] = {}
    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-6 state does not match its state_hash")
    vl_stacks_6_to_7(state)
    out = dict(doc)
    out["version"] = 7
    out["state_hash"] = state_digest(state)
    return out
