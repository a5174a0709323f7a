"""Task stacks of frames (format 7) as format 6 saved them, and folded back into the ops
format 5 saved, for the tests that forge older snapshot files from current ones (the inverse
of scenarios/snapshot/migrate_cwb.py and scenarios/snapshot/migrate_frames.py)."""

from __future__ import annotations

from typing import Any

_HEAD = ("op", "phase", "result", "is_syscall", "is_fault")


def _head(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f[k] for k in _HEAD}


def _inner(frames: list[dict[str, Any]], i: int) -> tuple[dict[str, Any], int]:
    """The nested (format-5 frame) form of the frame at ``i`` and the index after it and its
    callees."""
    f = frames[i]
    kind = f["frame"]
    j = i + 1
    subs: dict[str, Any] = {}
    for key in ("walk", "wait", "cur", "write", "sync_inode", "sb_frame", "bw", "ku"):
        if f.get(key) is True:
            subs[key], j = _inner(frames, j)
    if kind == "mpage_writepages":
        out = {"host": f["mapping"], "phase": f["phase"]}
        for k in ("index", "scanned", "done", "ret", "pvec", "i", "bio_pages", "bio_sector",
                  "last_block_in_bio", "visited", "written"):
            out[k] = f[k]
        return out, j
    if kind == "wait_on_page_writeback_range":
        return {"host": f["mapping"], "start": f["start"], "end": f["end"],
                "index": f["index"], "phase": f["phase"], "pvec": f["pvec"], "i": f["i"],
                "ret": f["ret"], "visited": f["visited"]}, j
    if kind == "__filemap_fdatawrite":
        return {"host": f["mapping"], "wbc": f["wbc"], "walk": subs.get("walk"),
                "ret": f["ret"]}, j
    if kind == "__writeback_single_inode":
        return {"ino": f["inode"], "phase": f["phase"], "dirty": f["dirty"], "ret": f["ret"],
                "walk": subs.get("walk"), "wait": subs.get("wait")}, j
    if kind == "sync_sb_inodes":
        return {"phase": f["phase"], "start": f["start"], "cur": subs.get("cur"),
                "pages_skipped": f["pages_skipped"], "acquired": f["acquired"],
                "written": f["written"], "synced": f["synced"]}, j
    if kind == "background_writeout":
        return {"min_pages": f["min_pages"], "phase": f["phase"], "wbc": f["wbc"],
                "sb_frame": subs.get("sb_frame")}, j
    if kind == "wb_kupdate":
        return {"phase": f["phase"], "oldest_jif": f["oldest_jif"],
                "start_jif": f["start_jif"], "next_jif": f["next_jif"],
                "nr_to_write": f["nr_to_write"], "wbc": f["wbc"],
                "sb_frame": subs.get("sb_frame")}, j
    op = _head(f)
    if kind == "sys_fsync":
        for k in ("path", "datasync", "ino", "start_ns", "token", "ret", "visited"):
            op[k] = f[k]
        op.update(write=subs.get("write"), sync_inode=subs.get("sync_inode"),
                  sync_wbc=f["wbc"], wait=subs.get("wait"))
    elif kind == "sys_sync":
        op.update(token=f["token"], npass=f["npass"], wbc=f["wbc"], frame=subs.get("sb_frame"))
    elif kind == "balance_dirty_pages":
        for k in ("host", "write_chunk", "pages_written", "nr_reclaimable", "nr_writeback",
                  "background_thresh", "dirty_thresh", "start_ns", "wbc"):
            op[k] = f[k]
        op["sb_frame"] = subs.get("sb_frame")
    elif kind == "pdflush":
        for k in ("fn", "arg0", "when_i_went_to_sleep"):
            op[k] = f[k]
        op.update(bw=subs.get("bw"), ku=subs.get("ku"))
    else:
        raise AssertionError(f"no format-5 form for a {kind} frame at the bottom of a path")
    return op, j


#: Format-7 phase -> format-6 phase, by frame kind (migrate_cwb.py maps them forward).
_PHASES_6 = {
    "sys_fsync": {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: 5},
    "mpage_writepages": {0: 0, 1: 1, 2: 2, 3: 3, 4: 5},
    "mpage_writepages@lists": {0: 0, 1: 7, 2: 8, 3: 9, 4: 11},
    "__writeback_single_inode": {0: 0, 1: 1, 2: 3, 3: 5},
}


def frames_as_version_six(kstack: list[dict[str, Any]], lists: bool) -> list[dict[str, Any]]:
    """A format-7 task stack as format 6 saved it (``lists``: the 2.6.5 list walks)."""
    out: list[dict[str, Any]] = []
    for f in kstack:
        kind = f.get("frame")
        f = dict(f)
        if kind == "sys_sync":
            npass = max(f["phase"] - 1, 0)
            f = {**{k: v for k, v in f.items() if k not in ("wbc", "sb_frame")},
                 "phase": min(f["phase"], 1), "npass": npass, "wbc": f["wbc"],
                 "sb_frame": f["sb_frame"]}
        elif kind in _PHASES_6:
            table = _PHASES_6[f"{kind}@lists" if lists and kind == "mpage_writepages" else kind]
            f["phase"] = table[f["phase"]]
        out.append(f)
    return out


def frames_as_version_five(kstack: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A format-6 task stack as format 5 saved it."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(kstack):
        if "frame" not in kstack[i]:
            out.append(kstack[i])
            i += 1
            continue
        op, i = _inner(kstack, i)
        out.append(op)
    return out
