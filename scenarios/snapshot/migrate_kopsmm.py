"""Snapshot format 6 -> 7, the mm ops: kswapd, the page fault, truncation, the memory
syscalls and msync became frames of the one protocol (kernelmodel/kernel/task.py).

Format 6 saved each of them as an op of its own making (``op``, a ``kind`` for most, and its
fields); format 7 saves them as declared frames (kernelmodel/kernel/frame_state.py): a
``frame`` kind first, the common head, then the fields in declaration order, with a callee
marked by a bool in its caller. The fields keep their names and values; what changes:

* a caller that had pushed a callee now names it: do_truncate's ``pages``
  (truncate_inode_pages), msync's ``write`` (filemap_write_and_wait) and the deferred
  ``iput`` of msync and of the memory syscalls' op, each set when a frame lies directly
  above the op in the stack;
* do_truncate has a phase for "truncate_inode_pages called" (3), so its later phases move
  up by one; a do_truncate at its old phase 3 is at the new 3 while its callee runs and at
  the new 4 (block_truncate_page) once the callee has returned;
* msync has a phase for "filemap_write_and_wait returned" (2): an msync at phase 1 whose
  callee has returned is at 2.

The other ops are left as they were.
"""

from __future__ import annotations

from typing import Final

#: Format-6 op (its ``kind``, or its name for kswapd, which had no kind) -> format-7 frame
#: kind and the fields it keeps, in declaration order.
_FIELDS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "kswapd": ("kswapd", ("priority", "total_scanned", "total_reclaimed", "do_writepage",
                          "nr_mapped")),
    "fault": ("do_page_fault", ("address", "write", "maj_flt_at_start")),
    "truncate_inode_pages": ("truncate_inode_pages", ("ino", "lstart", "next", "pvec",
                                                      "cursor", "locked", "pfn")),
    "truncate": ("do_truncate", ("path", "ino", "length", "pfn")),
    "mm_syscall": ("mm_syscall", ()),
    "msync": ("msync", ("inos", "ret", "token")),
}

#: do_truncate's format-6 phase of block_truncate_page, where it waited for its callee.
_TR_BLOCK_PAGE_V6: Final = 3
#: msync's phase while filemap_write_and_wait runs, and format 7's phase after it returned.
_MS_WRITE: Final = 1
_MS_WRITTEN: Final = 2


def _d(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a map")
    return value


def _frame(op: dict[str, object], callee_above: bool) -> dict[str, object]:
    """The format-7 frame of one format-6 op (the op itself when it did not change)."""
    if "frame" in op:
        return op
    kind = op.get("kind")
    if kind is None:
        key = "kswapd" if op.get("op") == "kswapd" else ""  # the one op without a kind here
    else:
        key = kind if isinstance(kind, str) and kind != "kswapd" else ""
    if key not in _FIELDS:
        return op
    frame_kind, fields = _FIELDS[key]
    phase = op.get("phase", 0)
    if not isinstance(phase, int):
        raise ValueError(f"a {key} op's phase must be an int")
    out: dict[str, object] = {
        "frame": frame_kind,
        "op": op["op"],
        "phase": phase,
        "result": op.get("result", 0),
        "is_syscall": bool(op.get("is_syscall", False)),
        "is_fault": bool(op.get("is_fault", False)),
    }
    for name in fields:
        if name not in op:
            raise ValueError(f"a {key} op has no {name!r}")
        out[name] = op[name]
    if key == "truncate":
        if phase >= _TR_BLOCK_PAGE_V6 and not (phase == _TR_BLOCK_PAGE_V6 and callee_above):
            out["phase"] = phase + 1
        out["pages"] = phase == _TR_BLOCK_PAGE_V6 and callee_above
    elif key == "mm_syscall":
        out["iput"] = callee_above
    elif key == "msync":
        inos = op["inos"]
        writing = callee_above and isinstance(inos, list) and len(inos) > 0
        if phase == _MS_WRITE and not writing:
            out["phase"] = _MS_WRITTEN
        out["write"] = writing
        out["iput"] = callee_above and not writing
    return out


def vl_migrate_kstack_6_to_7_kopsmm(kstack: list[object]) -> list[object]:
    """A format-6 task stack with the mm ops as format-7 frames."""
    ops = [_d(op, "kstack entry") for op in kstack]
    return [_frame(op, i + 1 < len(ops)) for i, op in enumerate(ops)]


def _tasks(state: dict[str, object]) -> list[dict[str, object]]:
    core = _d(state.get("kernel"), "the kernel state")
    tasks = core.get("tasks")
    if not isinstance(tasks, list):
        raise ValueError("the kernel state has no task list")
    return [_d(t, "a task") for t in tasks]


def vl_stacks_6_to_7_kopsmm(state: dict[str, object]) -> None:
    """Turn the mm ops of every task stack of a format-6 state into frames, in place.

    Caller: ``_migrate_6_to_7_kopsmm``, and the migrations below format 6 that restore a
    state through this vmlab's restorer (after ``vl_stacks_as_frames``).
    """
    for t in _tasks(state):
        kstack = t.get("kstack")
        if not isinstance(kstack, list):
            raise ValueError("a task has no kernel stack")
        t["kstack"] = vl_migrate_kstack_6_to_7_kopsmm(kstack)
