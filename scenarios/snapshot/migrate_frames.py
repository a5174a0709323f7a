"""Snapshot format 5 -> 6, frames: one frame per C function on a task's stack.

Format 5 saved a writeback path that slept as one op with the frames of the functions it had
called nested inside it (an fsync op holding its filemap_fdatawrite, holding its
mpage_writepages walk), and wrapped the frames other ops pushed in thin ops of their own.
Format 6 saves the stack the model now keeps (kernelmodel/kernel/task.py): each frame on its own,
bottom first, its declared fields beside a ``frame`` kind (kernelmodel/kernel/frame_state.py), a
callee marked by a bool in its caller, and a callee's writeback_control written as "caller"
when it is its caller's.

``_migrate_5_to_6_frames`` flattens every in-flight op of the writeback paths, at any phase,
into those frames; the phase numbers of the frames are those format 5 saved, except where a
caller's phase now means "the callee has returned" (they are mapped below). The other ops are
left as they were.
"""

from __future__ import annotations

from typing import Final

#: Phases of the format-6 frames the migration must name (kernelmodel/mm/filemap_wb.py).
_FW_RETURNED: Final = 1
_WW_WRITTEN: Final = 1
_WW_WAITED: Final = 2
_WW_WAIT_V5: Final = 1


def _base(name: str, kind: str, src: dict[str, object] | None = None,
          phase: object = 0) -> dict[str, object]:
    """The common head of a format-6 frame (``frame``, ``op``, phase, result, flags)."""
    src = src or {}
    return {
        "frame": kind,
        "op": name,
        "phase": src.get("phase", phase) if src else phase,
        "result": src.get("result", 0),
        "is_syscall": bool(src.get("is_syscall", False)),
        "is_fault": bool(src.get("is_fault", False)),
    }


def _d(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a map")
    return value


def _mpage(walk: dict[str, object], wbc: object) -> list[dict[str, object]]:
    f = _base("mpage_writepages", "mpage_writepages", None, walk["phase"])
    f.update(mapping=walk["host"], wbc=wbc)
    for key in ("index", "scanned", "done", "ret", "pvec", "i", "bio_pages", "bio_sector",
                "last_block_in_bio", "visited", "written"):
        f[key] = walk[key]
    return [f]


def _wait_range(w: dict[str, object], op: dict[str, object] | None = None
                ) -> list[dict[str, object]]:
    f = _base(str(op["op"]) if op else "filemap_fdatawait", "wait_on_page_writeback_range", op)
    f["phase"] = w["phase"]
    f["mapping"] = w["host"]
    for key in ("start", "end", "index", "pvec", "i", "ret", "visited"):
        f[key] = w[key]
    return [f]


def _fdatawrite(w: dict[str, object], op: dict[str, object] | None = None
                ) -> list[dict[str, object]]:
    wbc = _d(w["wbc"], "fdatawrite wbc")
    name = str(op["op"]) if op else (
        "filemap_fdatawrite" if wbc.get("sync_mode") == 1 else "filemap_flush")
    f = _base(name, "__filemap_fdatawrite", op)
    walk = w.get("walk")
    f.update(mapping=w["host"], wbc=wbc, walk=walk is not None, ret=w["ret"], visited=0)
    f["phase"] = _FW_RETURNED if walk is not None else 0
    out = [f]
    if walk is not None:
        out += _mpage(_d(walk, "fdatawrite walk"), "caller")
    return out


def _wsi(w: dict[str, object], wbc: object, op: dict[str, object] | None = None
         ) -> list[dict[str, object]]:
    f = _base("__sync_single_inode", "__writeback_single_inode", op)
    f["phase"] = w["phase"]
    walk, wait = w.get("walk"), w.get("wait")
    f.update(inode=w["ino"], wbc=wbc, dirty=w["dirty"], ret=w["ret"], walk=walk is not None,
             wait=wait is not None)
    out = [f]
    if walk is not None:
        out += _mpage(_d(walk, "writeback_single_inode walk"), "caller")
    if wait is not None:
        out += _wait_range(_d(wait, "writeback_single_inode wait"))
    return out


def _sync_sb(w: dict[str, object], wbc: object, name: str = "sync_sb_inodes",
             op: dict[str, object] | None = None) -> list[dict[str, object]]:
    f = _base(name, "sync_sb_inodes", op)
    f["phase"] = w["phase"]
    cur = w.get("cur")
    f.update(wbc=wbc, start=w["start"], cur=cur is not None, pages_skipped=w["pages_skipped"],
             acquired=w["acquired"], written=w["written"], synced=w["synced"])
    out = [f]
    if cur is not None:
        out += _wsi(_d(cur, "sync_sb_inodes cur"), "caller")
    return out


def _with_sb(f: dict[str, object], sb: object) -> list[dict[str, object]]:
    f["sb_frame"] = sb is not None
    out = [f]
    if sb is not None:
        out += _sync_sb(_d(sb, "sb_frame"), "caller")
    return out


def _fsync(op: dict[str, object]) -> list[dict[str, object]]:
    f = _base(str(op["op"]), "sys_fsync", op)
    for key in ("path", "datasync", "ino", "start_ns", "token", "ret", "visited"):
        f[key] = op[key]
    write, si, wait = op.get("write"), op.get("sync_inode"), op.get("wait")
    f.update(write=write is not None, wbc=op.get("sync_wbc"), sync_inode=si is not None,
             wait=wait is not None)
    out = [f]
    if write is not None:
        out += _fdatawrite(_d(write, "fsync write"))
    if si is not None:
        out += _wsi(_d(si, "fsync sync_inode"), "caller")
    if wait is not None:
        out += _wait_range(_d(wait, "fsync wait"))
    return out


def _write_and_wait(op: dict[str, object]) -> list[dict[str, object]]:
    f = _base("filemap_write_and_wait", "filemap_write_and_wait", op)
    write, wait = op.get("write"), op.get("wait")
    f["mapping"] = op["host"]
    f["nr_to_write"] = _d(_d(write, "write")["wbc"], "wbc")["nr_to_write"] if write else 0
    f.update(write=write is not None, wait=wait is not None)
    out = [f]
    if op["phase"] == _WW_WAIT_V5:
        f["phase"] = _WW_WAITED
        out += _wait_range(_d(wait, "filemap_write_and_wait wait"))
    elif write is not None:
        f["phase"] = _WW_WRITTEN
        out += _fdatawrite(_d(write, "filemap_write_and_wait write"))
    return out


def _pdflush(op: dict[str, object]) -> list[dict[str, object]]:
    f = _base("pdflush", "pdflush", op)
    for key in ("fn", "arg0", "when_i_went_to_sleep"):
        f[key] = op[key]
    bw, ku = op.get("bw"), op.get("ku")
    f.update(bw=bw is not None, ku=ku is not None)
    out = [f]
    if bw is not None:
        b = _d(bw, "pdflush bw")
        g = _base("background_writeout", "background_writeout", None, b["phase"])
        g.update(min_pages=b["min_pages"], wbc=b["wbc"])
        out += _with_sb(g, b.get("sb_frame"))
    if ku is not None:
        u = _d(ku, "pdflush ku")
        g = _base("wb_kupdate", "wb_kupdate", None, u["phase"])
        for key in ("oldest_jif", "start_jif", "next_jif", "nr_to_write", "wbc"):
            g[key] = u[key]
        out += _with_sb(g, u.get("sb_frame"))
    return out


def _balance(op: dict[str, object]) -> list[dict[str, object]]:
    f = _base("balance_dirty_pages", "balance_dirty_pages", op)
    for key in ("host", "write_chunk", "pages_written", "nr_reclaimable", "nr_writeback",
                "background_thresh", "dirty_thresh", "start_ns", "wbc"):
        f[key] = op[key]
    return _with_sb(f, op.get("sb_frame"))


def _sync(op: dict[str, object]) -> list[dict[str, object]]:
    f = _base("sync", "sys_sync", op)
    f.update(token=op["token"], npass=op["npass"], wbc=op["wbc"])
    return _with_sb(f, op.get("frame"))


def _do_writepages(op: dict[str, object]) -> list[dict[str, object]]:
    walk = op.get("frame")
    if walk is None:
        raise ValueError("a do_writepages op with nothing to write cannot be migrated")
    out = _mpage(_d(walk, "do_writepages frame"), op["wbc"])
    head = _base(str(op["op"]), "mpage_writepages", op)
    out[0].update(result=head["result"], is_syscall=head["is_syscall"],
                  is_fault=head["is_fault"])
    return out


def _flatten(op: dict[str, object]) -> list[dict[str, object]]:
    """The format-6 frames of one format-5 op (the op itself when it did not change)."""
    name = op.get("op")
    if "kind" in op:
        return [op]  # an op of the other paths (it has a kind): saved as before
    if name in ("fsync", "fdatasync"):
        return _fsync(op)
    if name == "sync":
        return _sync(op)
    if name == "balance_dirty_pages":
        return _balance(op)
    if name == "pdflush":
        return _pdflush(op)
    if name in ("filemap_fdatawrite", "filemap_flush"):
        return _fdatawrite(_d(op["frame"], "filemap_fdatawrite frame"), op)
    if name == "filemap_fdatawait":
        return _wait_range(_d(op["frame"], "filemap_fdatawait frame"), op)
    if name == "filemap_write_and_wait":
        return _write_and_wait(op)
    if name in ("writeback_inodes", "sync_sb_inodes"):
        sb = op.get("frame")
        empty: dict[str, object] = {"phase": 0, "start": 0, "cur": None, "pages_skipped": 0,
                                    "acquired": False, "written": 0, "synced": []}
        return _sync_sb(_d(sb, "frame") if sb is not None else empty, op["wbc"], str(name), op)
    if name == "__sync_single_inode":
        return _wsi(_d(op["frame"], "__sync_single_inode frame"), op["wbc"], op)
    if name == "do_writepages":
        return _do_writepages(op)
    return [op]


def vl_migrate_kstack_5_to_6(kstack: list[object]) -> list[object]:
    """A format-5 task stack as format-6 frames."""
    out: list[object] = []
    for op in kstack:
        out += _flatten(_d(op, "kstack entry"))
    return out


def _tasks(state: dict[str, object]) -> list[dict[str, object]]:
    core = _d(state.get("kernel"), "the kernel state")
    tasks = core.get("tasks")
    if not isinstance(tasks, list):
        raise ValueError("the kernel state has no task list")
    return [_d(t, "a task") for t in tasks]


def vl_stacks_as_frames(state: dict[str, object]) -> dict[object, object]:
    """Turn the task stacks of a state below format 6 into frames, in place, for this
    vmlab's restorer; returns the old stacks by pid for ``vl_stacks_put_back``.

    Caller: a migration below format 6 that restores a state and writes it back.
    """
    old: dict[object, object] = {}
    for t in _tasks(state):
        kstack = t.get("kstack")
        if not isinstance(kstack, list):
            raise ValueError("a task has no kernel stack")
        old[t.get("pid")] = kstack
        t["kstack"] = vl_migrate_kstack_5_to_6(kstack)
    return old


def vl_stacks_put_back(state: dict[str, object], old: dict[object, object]) -> None:
    """Give the tasks of a state written again their stacks as the older format saved them
    (the restore and write that a migration below format 6 does leaves stacks as they were)."""
    for t in _tasks(state):
        if t.get("pid") not in old:
            raise ValueError(f"task {t.get('pid')!r} appeared in the restore")
        t["kstack"] = old[t.get("pid")]


def _migrate_5_to_6_frames(doc: dict[str, object]) -> dict[str, object]:
    """Format 5 -> 6, frames: flatten every task's stack (``vl_migrate_kstack_5_to_6``).

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
        raise ValueError("the version-5 state does not match its state_hash")
    vl_stacks_as_frames(state)
    out = dict(doc)
    out["version"] = 6
    out["state_hash"] = state_digest(state)
    return out
