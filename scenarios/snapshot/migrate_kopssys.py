"""Snapshot format 6 -> 7, fs and kernel ops as frames: one registry of op kinds.

Format 6 saved the read, write, open, close, unlink, inode deletion, exit, wait, fork and
nanosleep ops (and the calls that completed at once) as ops that saved themselves: their fields
beside a ``kind`` (most of them) or under their kernel function's name alone (nanosleep,
checkpoint, verify, an unknown call). Format 7 saves them as frames of the one protocol
(kernelmodel/kernel/frame_state.py): the same fields, in the same order, after a ``frame``
kind that names the class in the one registry, ``FRAME_CLASSES``.

``_migrate_6_to_7_kopssys`` rewrites those entries of every task's stack, at any phase (the
phases and fields did not change); every other entry is left as it was.
"""

from __future__ import annotations

from typing import Final

#: Format-6 ``kind`` -> the format-7 frame kind.
_FRAME_OF_KIND: Final = {
    "file_read": "do_generic_file_read",
    "file_write": "generic_file_write",
    "open": "sys_open",
    "close": "sys_close",
    "unlink": "sys_unlink",
    "delete_inode": "generic_delete_inode",
    "exit_files": "exit_files",
    "exit": "do_exit",
    "wait_children": "vl_wait_children",
    "fork": "do_fork",
}

#: The head of a saved op, before its fields (frame_state's head without ``frame``).
_HEAD: Final = ("op", "phase", "result", "is_syscall", "is_fault")


def _frame_kind(op: dict[str, object]) -> str | None:
    """The format-7 frame kind of a format-6 op, or None for an op that did not change."""
    if "frame" in op:
        return None
    kind = op.get("kind")
    if isinstance(kind, str):
        return _FRAME_OF_KIND.get(kind)
    if kind is not None:
        raise ValueError("an op's kind must be a str")
    name = op.get("op")
    if name == "nanosleep":
        return "sys_nanosleep"
    if name in ("checkpoint", "verify") or (isinstance(name, str) and name.startswith("syscall ")):
        return "vl_immediate"
    return None


def vl_migrate_op_6_to_7(op: dict[str, object]) -> dict[str, object]:
    """One format-6 kstack entry as format 7 (the entry itself when it did not change)."""
    frame = _frame_kind(op)
    if frame is None:
        return op
    if any(key not in op for key in _HEAD):
        raise ValueError(f"a {op.get('op')!r} op without its {'/'.join(_HEAD)}")
    out: dict[str, object] = {"frame": frame}
    for key, value in op.items():
        if key != "kind":
            out[key] = value
    return out


def vl_migrate_stacks_6_to_7(state: dict[str, object]) -> None:
    """Rewrite every task's stack of a format-6 state as format 7, in place.

    Caller: ``_migrate_6_to_7_kopssys``, and a migration below format 6 that restores a state
    with this vmlab's restorer (after ``migrate_frames.vl_stacks_as_frames``).
    """
    core = state.get("kernel")
    tasks = core.get("tasks") if isinstance(core, dict) else None
    if not isinstance(tasks, list):
        raise ValueError("the kernel state has no task list")
    for task in tasks:
        kstack = task.get("kstack") if isinstance(task, dict) else None
        if not isinstance(kstack, list) or not all(isinstance(op, dict) for op in kstack):
            raise ValueError("a task has no kernel stack")
        task["kstack"] = [vl_migrate_op_6_to_7(op) for op in kstack]
