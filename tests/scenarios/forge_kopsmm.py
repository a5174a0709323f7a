"""Task stacks of format 7 with the mm ops folded back into the ops format 6 saved, for the
tests that forge older snapshot files from current ones (the inverse of
scenarios/snapshot/migrate_kopsmm.py)."""

from __future__ import annotations

from typing import Any

_HEAD = ("op", "phase", "result", "is_syscall", "is_fault")

#: Format-7 frame kind -> format-6 ``kind`` (None: kswapd had none) and the fields kept.
_OPS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "kswapd": (None, ("priority", "total_scanned", "total_reclaimed", "do_writepage",
                      "nr_mapped")),
    "do_page_fault": ("fault", ("address", "write", "maj_flt_at_start")),
    "truncate_inode_pages": ("truncate_inode_pages", ("ino", "lstart", "next", "pvec",
                                                      "cursor", "locked", "pfn")),
    "do_truncate": ("truncate", ("path", "ino", "length", "pfn")),
    "mm_syscall": ("mm_syscall", ()),
    "msync": ("msync", ("inos", "ret", "token")),
}


def _op(f: dict[str, Any]) -> dict[str, Any]:
    kind, fields = _OPS[f["frame"]]
    op = {k: f[k] for k in _HEAD}
    if kind is not None:
        op["kind"] = kind
    for name in fields:
        op[name] = f[name]
    if f["frame"] == "do_truncate" and op["phase"] > 3:
        op["phase"] -= 1
    if f["frame"] == "msync" and op["phase"] == 2:
        op["phase"] = 1
    return op


def frames_as_version_six(kstack: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A format-7 task stack as format 6 saved it."""
    return [_op(f) if f.get("frame") in _OPS else f for f in kstack]
