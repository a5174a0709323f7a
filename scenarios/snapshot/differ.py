"""What differs between two snapshots, in kernel terms, with both sides named.

``vmlab snapshot diff A B`` first names each side: file, scenario and its source, kernel
profile and design switches, seed, event, simulated time, behaviour version and state hash
(and says so when the two kernels differ). Then what differs:

* counters side by side (A, B, B - A);
* pages: summaries grouped by transition (list, flags, mapping), then each differing page by
  pfn with what it is on each side: a page-cache page by its file and index, an anonymous
  page by its owners (pid, task and user address, found by walking the page tables), a
  swap-cache page by its swap entry; and what changed (flags gained and lost, counts, list);
* tasks, files (sizes, cached pages, tags), the disk queue, then any other part of the state
  that differs, by name.

Everything is read from the plain data of the two checked maps; nothing is restored. ``--json``
gives the same as one JSON document (every page, where the text shows the first few).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

from kernelmodel.inspect.declared import SECTIONS, vl_declared_changes
from kernelmodel.inspect.frame_state import (
    FRAME_HOLDS_NAMES,
    FRAME_LIST_NAMES,
    HOLDS_FILE,
    LIST_FREE,
)
from kernelmodel.inspect.saved import (
    vl_saved_column,
    vl_saved_file_pages,
    vl_saved_frame_classes,
    vl_saved_frames,
    vl_saved_nframes,
    vl_saved_swap_entries,
    vl_saved_swapper_pages,
    vl_saved_user_ptes,
)
from scenarios.snapshot.errors import SnapshotError
from scenarios.snapshot.errors import exc_line as _one_line
from scenarios.snapshot.fields import get_int as _get_int
from scenarios.snapshot.fields import get_path as _get
from scenarios.snapshot.inspection import state_counters
from scenarios.snapshot.inspection import task_doing as _task_doing
from scenarios.snapshot.inspection import task_state_name as _task_state_name
from scenarios.snapshot.read import read_snapshot
from scenarios.units import format_duration

#: Differing pages the text lists one by one (``--json`` lists every one).
DEFAULT_PAGES: Final = 30
_PAGE_SHIFT: Final = 12


@dataclass
class SnapshotDiff:
    """``diff``'s result: equal when the states hash alike and the runner records agree.

    ``lines`` is the text; ``data`` the same as plain data for ``--json``.
    """

    equal: bool
    lines: list[str]
    data: dict[str, object] = field(default_factory=dict)


def _fmt(n: int) -> str:
    return f"{n:,}"


# ---- the two sides -------------------------------------------------------------------------------


def side(doc: dict[str, object], name: str) -> dict[str, object]:
    """What one side is: file, scenario, kernel, seed, event, time, versions, hash."""
    st = doc.get("state")
    kernel = _get(doc, "scenario", "kernel")
    return {
        "file": name,
        "scenario": _get(doc, "scenario", "doc", "name"),
        "source": _get(doc, "scenario", "source"),
        "kernel": dict(kernel) if isinstance(kernel, dict) else {},
        "seed": _get(doc, "scenario", "seed"),
        "events": _get_int(st, "machine", "events"),
        "sim_time_ns": _get_int(st, "machine", "clock", "now"),
        "end_reason": _get(doc, "session", "end_reason"),
        "vmlab_version": doc.get("vmlab_version"),
        "behaviour_version": doc.get("behaviour_version"),
        "state_hash": doc.get("state_hash"),
    }


def _kernel_text(k: object) -> str:
    """``2.6.6 (writeback=tags, rmap=pte_chain, vmscan=2.6.6, swapin=2.6.6)``: the profile and
    every design switch the snapshot records, in ``DESIGNS`` order."""
    from scenarios.profiles import DESIGNS

    if not isinstance(k, dict):
        return "?"
    switches = ", ".join(f"{d.switch}={k[d.switch]}" for d in DESIGNS if d.switch in k)
    return f"{k.get('profile')} ({switches})"


def _side_line(label: str, s: dict[str, object]) -> str:
    sim = s["sim_time_ns"]
    ended = f", ended ({s['end_reason']})" if s.get("end_reason") else ""
    return (f"{label}: {s['file']}: {s['scenario']} ({s['source']}), kernel "
            f"{_kernel_text(s['kernel'])}, seed {s['seed']}, event {_fmt(_get_int(s, 'events'))}"
            f", {format_duration(sim) if isinstance(sim, int) else sim}{ended}, behaviour "
            f"version {s['behaviour_version']}, state hash {str(s['state_hash'])[:16]}")


def _side_notes(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """What makes the comparison one of different runs, said first."""
    out: list[str] = []
    if a["kernel"] != b["kernel"]:
        out.append(f"different kernels: A {_kernel_text(a['kernel'])}, "
                   f"B {_kernel_text(b['kernel'])}")
    for key, what in (("scenario", "scenarios"), ("seed", "seeds"),
                      ("behaviour_version", "behaviour versions")):
        if a[key] != b[key]:
            out.append(f"different {what}: A {a[key]}, B {b[key]}")
    return out


# ---- pages ---------------------------------------------------------------------------------------


def page_owners(state: object) -> dict[int, list[str]]:
    """pfn -> "pid 4 (hog) 0x40001000" for every user pte that maps it, from a walk of each
    address space's page tables (two-level i386 paging) in the saved RAM."""
    frames = vl_saved_frames(state)
    tasks = _get(state, "kernel", "tasks")
    users: dict[int, list[str]] = {}
    for t in tasks if isinstance(tasks, list) else []:
        mm_id = _get_int(t, "mm_id")
        if mm_id > 0:
            users.setdefault(mm_id, []).append(f"pid {_get_int(t, 'pid')} ({_get(t, 'name')})")
    out: dict[int, list[str]] = {}
    mms = _get(state, "mm", "mms")
    for mm in mms if isinstance(mms, list) else []:
        who = users.get(_get_int(mm, "mm_id"))
        if not who:
            continue
        for vaddr, pte in vl_saved_user_ptes(frames, _get_int(mm, "pgd")):
            out.setdefault(pte >> _PAGE_SHIFT, []).extend(f"{w} {vaddr:#x}" for w in who)
    return out


class PageView:
    """What diff needs of mem_map, per pfn: list, flags, counts, what the page is and who
    maps it (plain data)."""

    def __init__(self, state: dict[str, object]) -> None:
        n = vl_saved_nframes(state)
        self.n = n
        self.flags = vl_saved_column(state, "flags", n)
        self.count = vl_saved_column(state, "_count", n)
        self.mapcount = vl_saved_column(state, "_mapcount", n)
        self.index = vl_saved_column(state, "index", n)
        self.private = vl_saved_column(state, "private", n)
        classes = vl_saved_frame_classes(state)
        files = vl_saved_file_pages(state)
        #: the list the page is on (``FRAME_LIST_NAMES``)
        self.where = [FRAME_LIST_NAMES[c[1]] for c in classes]
        #: "anon", "file PATH", "swap cache" or "none" (the summaries group by it)
        self.mapping = [f"file {files[pfn][0]}" if c[2] == HOLDS_FILE
                        else FRAME_HOLDS_NAMES[c[2]] for pfn, c in enumerate(classes)]
        #: what the page is, in a few words ("file log index 3")
        self.what = [f"file {files[pfn][0]} index {self.index[pfn]}" if pfn in files else ""
                     for pfn in range(n)]
        entry = vl_saved_swap_entries(state)
        for pfn in vl_saved_swapper_pages(state):
            if 0 <= pfn < n:
                self.what[pfn] = f"swap cache entry {entry[pfn]:#x}"
        self.owners = page_owners(state)
        zone = _get(state, "pgdat", "zone")
        span = _get_int(zone, "spanned_pages")
        self.active = _lru_order(zone, span)
        self.inactive = _lru_order(zone, span + 1)

    def identity(self, pfn: int) -> str:
        """What the page is and who maps it: "file log index 3", "anon, pid 4 (hog)
        0x40000000", "free"."""
        owners = self.owners.get(pfn, [])
        parts: list[str] = []
        if self.what[pfn]:
            parts.append(self.what[pfn])
        elif self.mapping[pfn] == "anon":
            parts.append("anon")
        elif self.where[pfn] == FRAME_LIST_NAMES[LIST_FREE]:
            parts.append("free")
        if owners:
            more = f" and {len(owners) - 2} more" if len(owners) > 2 else ""
            parts.append("mapped by " + ", ".join(owners[:2]) + more)
        return ", ".join(parts) or self.where[pfn]

    def record(self, pfn: int) -> dict[str, object]:
        from kernelmodel.include.page import PAGEFLAG_NAMES

        return {
            "what": self.identity(pfn),
            "list": self.where[pfn],
            "flags": [f"PG_{name}" for bit, name in enumerate(PAGEFLAG_NAMES)
                      if (self.flags[pfn] >> bit) & 1],
            "_count": self.count[pfn],
            "_mapcount": self.mapcount[pfn],
            "index": self.index[pfn],
            "private": self.private[pfn],
            "mapped_by": self.owners.get(pfn, []),
        }


def _lru_order(zone: object, head: int) -> list[int]:
    """The nodes of one LRU list, head to tail (bounded: a broken list stops the walk)."""
    nxt = _get(zone, "lru_next")
    if not isinstance(nxt, list) or not 0 <= head < len(nxt):
        return []
    out: list[int] = []
    node = nxt[head]
    while isinstance(node, int) and node != head and 0 <= node < len(nxt) and len(out) < len(nxt):
        out.append(node)
        node = nxt[node]
    return out


def _group(pairs: dict[tuple[str, str], int], unit: str = "pages") -> list[str]:
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"{n:,} {unit} {a} → {b}" for (a, b), n in ranked]


#: The fields of ``PageView.record`` that decide whether a page differs.
_COMPARED: Final = ("what", "list", "flags", "_count", "_mapcount", "mapped_by")


def _page_changes(pa: PageView, pb: PageView, pfn: int) -> list[str]:
    """What changed in one page, in kernel words."""
    from kernelmodel.include.page import PAGEFLAG_NAMES

    out: list[str] = []
    if pa.where[pfn] != pb.where[pfn]:
        out.append(f"{pa.where[pfn]} → {pb.where[pfn]}")
    fa, fb = pa.flags[pfn], pb.flags[pfn]
    for bit, name in enumerate(PAGEFLAG_NAMES):
        if (fb >> bit) & 1 and not (fa >> bit) & 1:
            out.append(f"+PG_{name}")
        elif (fa >> bit) & 1 and not (fb >> bit) & 1:
            out.append(f"-PG_{name}")
    for label, col_a, col_b in (("_count", pa.count, pb.count),
                                ("_mapcount", pa.mapcount, pb.mapcount)):
        if col_a[pfn] != col_b[pfn]:
            out.append(f"{label} {col_a[pfn]} → {col_b[pfn]}")
    return out


def _diff_pages(a: dict[str, object], b: dict[str, object], out: list[str],
                data: dict[str, object], limit: int) -> None:
    from kernelmodel.include.page import PAGEFLAG_NAMES

    pa = PageView(a)
    pb = PageView(b)
    if pa.n != pb.n:
        out.append(f"pages: mem_map has {pa.n:,} pages in A and {pb.n:,} in B")
        data["pages"] = {"nframes": [pa.n, pb.n]}
        return
    moves: dict[tuple[str, str], int] = {}
    maps: dict[tuple[str, str], int] = {}
    gained = [0] * len(PAGEFLAG_NAMES)
    lost = [0] * len(PAGEFLAG_NAMES)
    counts = 0
    mapcounts = 0
    pages: list[dict[str, object]] = []
    for pfn in range(pa.n):
        if pa.where[pfn] != pb.where[pfn]:
            key = (pa.where[pfn], pb.where[pfn])
            moves[key] = moves.get(key, 0) + 1
        if pa.mapping[pfn] != pb.mapping[pfn]:
            key = (pa.mapping[pfn], pb.mapping[pfn])
            maps[key] = maps.get(key, 0) + 1
        fa = pa.flags[pfn]
        fb = pb.flags[pfn]
        if fa != fb:
            for bit in range(len(PAGEFLAG_NAMES)):
                if (fb >> bit) & 1 and not (fa >> bit) & 1:
                    gained[bit] += 1
                elif (fa >> bit) & 1 and not (fb >> bit) & 1:
                    lost[bit] += 1
        counts += pa.count[pfn] != pb.count[pfn]
        mapcounts += pa.mapcount[pfn] != pb.mapcount[pfn]
        ra = pa.record(pfn)
        rb = pb.record(pfn)
        # page->index and ->private hold a swap entry in different fields per release:
        # a page differs when what it is ("what" names the entry), its list, flags, counts
        # or mappers differ
        if any(ra[key] != rb[key] for key in _COMPARED):
            pages.append({"pfn": pfn, "changes": _page_changes(pa, pb, pfn), "a": ra, "b": rb})
    lines = _group(moves)
    for bit, name in enumerate(PAGEFLAG_NAMES):
        if gained[bit]:
            lines.append(f"{gained[bit]:,} pages gained PG_{name}")
        if lost[bit]:
            lines.append(f"{lost[bit]:,} pages lost PG_{name}")
    lines += [line.replace(" pages ", " pages mapping ", 1) for line in _group(maps)]
    if counts:
        lines.append(f"{counts:,} pages changed _count")
    if mapcounts:
        lines.append(f"{mapcounts:,} pages changed _mapcount")
    for name, la, lb in (("active", pa.active, pb.active), ("inactive", pa.inactive, pb.inactive)):
        if la != lb and set(la) == set(lb):
            moved = sum(1 for x, y in zip(la, lb, strict=True) if x != y)
            lines.append(f"{name} list reordered ({moved:,} positions differ)")
    data["pages"] = {"summary": lines, "differing": pages}
    if not lines and not pages:
        return
    out.append("pages:")
    out += ["  " + line for line in lines]
    if pages:
        out.append(f"  {len(pages):,} pages differ, by pfn:")
        for p in pages[:limit]:
            what_a = _get(p, "a", "what")
            what_b = _get(p, "b", "what")
            who = f"{what_a}" if what_a == what_b else f"A {what_a} | B {what_b}"
            changes = p["changes"]
            assert isinstance(changes, list)
            what_changed = "; ".join(str(c) for c in changes) or "what it is, or who maps it"
            out.append(f"    pfn {p['pfn']}: {who}: {what_changed}")
        if len(pages) > limit:
            out.append(f"    ... and {len(pages) - limit:,} more (--pages N shows more, "
                       f"--json all)")


# ---- counters, tasks, files, disk --------------------------------------------------------------


def _diff_counters(a: dict[str, object], b: dict[str, object], out: list[str],
                   data: dict[str, object]) -> None:
    ca = {"sim_time_ns": _get_int(a, "machine", "clock", "now"),
          "events": _get_int(a, "machine", "events"), **state_counters(a)}
    cb = {"sim_time_ns": _get_int(b, "machine", "clock", "now"),
          "events": _get_int(b, "machine", "events"), **state_counters(b)}
    rows: list[dict[str, object]] = []
    for name in [*ca, *(n for n in cb if n not in ca)]:
        va, vb = ca.get(name), cb.get(name)
        if va != vb:
            rows.append({"name": name, "a": va, "b": vb})
    data["counters"] = rows
    if not rows:
        return
    out.append(f"counters: {'A':>15} {'B':>15} {'B - A':>15}")
    for r in rows:
        xa: object = r["a"]
        xb: object = r["b"]
        delta = f"{xb - xa:+,}" if isinstance(xa, int) and isinstance(xb, int) else ""
        sa = _fmt(xa) if isinstance(xa, int) else "-"
        sb = _fmt(xb) if isinstance(xb, int) else "-"
        out.append(f"  {r['name']:<24} {sa:>15} {sb:>15} {delta:>15}")


def _tasks(state: dict[str, object]) -> dict[int, dict[str, object]]:
    out: dict[int, dict[str, object]] = {}
    tasks = _get(state, "kernel", "tasks")
    for t in tasks if isinstance(tasks, list) else []:
        if isinstance(t, dict) and isinstance(t.get("pid"), int):
            out[int(t["pid"])] = t
    return out


def _task_line(t: dict[str, object]) -> str:
    doing = _task_doing(t)
    return _task_state_name(t.get("state")) + (f" ({doing})" if doing else "")


def _diff_tasks(a: dict[str, object], b: dict[str, object]) -> list[str]:
    ta = _tasks(a)
    tb = _tasks(b)
    lines: list[str] = []
    for pid in sorted(set(ta) | set(tb)):
        x = ta.get(pid)
        y = tb.get(pid)
        who = f"task {pid} ({(y or x or {}).get('name')})"
        if x is None:
            lines.append(f"{who}: new, {_task_line(y or {})}")
            continue
        if y is None:
            lines.append(f"{who}: gone (was {_task_line(x)})")
            continue
        if _task_line(x) != _task_line(y):
            lines.append(f"{who}: {_task_line(x)} → {_task_line(y)}")
        pc_a = _get(x, "ctx", "pc")
        pc_b = _get(y, "ctx", "pc")
        if pc_a != pc_b:
            lines.append(f"{who}: pc {pc_a} → {pc_b}")
        for name in ("min_flt", "maj_flt", "cpu_ns"):
            va, vb = _get_int(x, name), _get_int(y, name)
            if va != vb:
                lines.append(f"{who}: {name} {_fmt(va)} → {_fmt(vb)} ({vb - va:+,})")
    return lines


def _files(state: dict[str, object]) -> dict[int, dict[str, int | str]]:
    """Per inode: path, size, cached pages, dirty- and writeback-tagged pages, i_state."""
    out: dict[int, dict[str, int | str]] = {}
    inodes = _get(state, "sb", "s_inodes")
    for inode in inodes if isinstance(inodes, list) else []:
        tags = _get(inode, "mapping", "page_tree", "tags")
        dirty = 0
        wb = 0
        for pair in tags if isinstance(tags, list) else []:
            mask = pair[1] if isinstance(pair, list) and len(pair) == 2 else 0
            if isinstance(mask, int):
                dirty += mask & 1
                wb += (mask >> 1) & 1
        out[_get_int(inode, "i_ino")] = {
            "path": str(_get(inode, "path")), "size": _get_int(inode, "i_size"),
            "pages": _get_int(inode, "mapping", "nrpages"), "dirty-tagged": dirty,
            "writeback-tagged": wb, "i_state": _get_int(inode, "i_state"),
        }
    return out


def _diff_files(a: dict[str, object], b: dict[str, object]) -> list[str]:
    fa = _files(a)
    fb = _files(b)
    lines: list[str] = []
    for ino in sorted(set(fa) | set(fb)):
        x = fa.get(ino)
        y = fb.get(ino)
        who = f"file {(y or x or {}).get('path')} (inode {ino})"
        if x is None or y is None:
            lines.append(f"{who}: {'created' if x is None else 'deleted'}")
            continue
        changes = [f"{key} {x[key]} → {y[key]}" for key in x if x[key] != y[key]]
        if changes:
            lines.append(f"{who}: " + "; ".join(changes))
    return lines


def _requests(disk: object) -> list[str]:
    out: list[str] = []
    for part in ("in_service", "queue"):
        reqs = _get(disk, part)
        for r in reqs if isinstance(reqs, list) else []:
            rw = "W" if _get(r, "write") is True else "R"
            tag = " (in service)" if part == "in_service" else ""
            out.append(f"#{_get_int(r, 'req_id')} {rw} {_get_int(r, 'sector')}"
                       f"+{_get_int(r, 'nsect')}{tag}")
    return out


def _diff_disk(a: dict[str, object], b: dict[str, object]) -> list[str]:
    da = _get(a, "machine", "disk")
    db = _get(b, "machine", "disk")
    ra = _requests(da)
    rb = _requests(db)
    lines: list[str] = []
    if ra != rb:
        lines.append(f"queue: {len(ra)} → {len(rb)} requests")
        lines.append("  A: " + (", ".join(ra) if ra else "idle"))
        lines.append("  B: " + (", ".join(rb) if rb else "idle"))
    ha, hb = _get_int(da, "head"), _get_int(db, "head")
    if ha != hb:
        lines.append(f"head: cylinder {ha} → {hb}")
    if _get(da, "chunks") != _get(db, "chunks") or _get(da, "chunk_data") != _get(db, "chunk_data"):
        lines.append("contents differ")
    return lines


#: State sections diff describes in its own terms; any other that differs is named.
_DESCRIBED: Final = ("vmstat", "mem_map", "sb", "kernel")


def _diff_rest(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """The other sections that differ; a section of a declared class with the fields that
    differ in it ("pgdat (zone.free_pages, zone.lru_next)")."""
    other: list[str] = []
    for key in [*a, *(k for k in b if k not in a)]:
        if key in _DESCRIBED or a.get(key) == b.get(key):
            continue
        cls = SECTIONS.get(key)
        fields = vl_declared_changes(cls, a.get(key), b.get(key)) if cls else []
        other.append(f"{key} ({', '.join(fields)})" if fields else key)
    return other


def _checkpoints(doc: dict[str, object]) -> list[str]:
    hits = _get(doc, "session", "checkpoints")
    return [str(_get(h, "name")) for h in hits] if isinstance(hits, list) else []


def _section(out: list[str], title: str, lines: list[str]) -> None:
    if lines:
        out.append(f"{title}:")
        out += ["  " + line for line in lines]


def diff_docs(a: dict[str, object], b: dict[str, object], name_a: str = "A",
              name_b: str = "B", pages: int = DEFAULT_PAGES) -> SnapshotDiff:
    """What differs between two checked snapshot maps, in kernel terms (see the module
    docstring); ``pages``: how many differing pages the text lists one by one."""
    sa = a["state"]
    sb = b["state"]
    assert isinstance(sa, dict) and isinstance(sb, dict)
    side_a = side(a, name_a)
    side_b = side(b, name_b)
    out = [_side_line("A", side_a), _side_line("B", side_b)]
    out += _side_notes(side_a, side_b)
    data: dict[str, object] = {"a": side_a, "b": side_b}
    same_state = a["state_hash"] == b["state_hash"]
    body: list[str] = []
    ca, cb = _checkpoints(a), _checkpoints(b)
    if ca != cb:
        body.append(f"checkpoints hit: {', '.join(ca) or 'none'} → {', '.join(cb) or 'none'}")
    data["checkpoints"] = {"a": ca, "b": cb}
    same_session = _get(a, "session") == _get(b, "session")
    if not same_state:
        _diff_counters(sa, sb, body, data)
        _diff_pages(sa, sb, body, data, pages)
        for title, lines in (("tasks", _diff_tasks(sa, sb)), ("files", _diff_files(sa, sb)),
                             ("disk", _diff_disk(sa, sb))):
            _section(body, title, lines)
            data[title] = lines
        other = _diff_rest(sa, sb)
        data["other_state"] = other
        if other:
            body.append("other state that differs: " + ", ".join(other))
    equal = same_state and same_session
    data["equal"] = equal
    if equal:
        body.append("equal: the snapshots hold the same state")
    elif same_state:
        body.append("the kernel states are equal; the runner's records differ")
    return SnapshotDiff(equal, out + body, data)


def diff(a: str | os.PathLike[str], b: str | os.PathLike[str],
         pages: int = DEFAULT_PAGES) -> SnapshotDiff:
    """``diff_docs`` of two snapshot files.

    Raises:
        SnapshotError: a file is not a readable snapshot, or they cannot be compared.
    """
    doc_a = read_snapshot(a)
    doc_b = read_snapshot(b)
    try:
        return diff_docs(doc_a, doc_b, os.fspath(a), os.fspath(b), pages)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SnapshotError(f"cannot compare the snapshots ({_one_line(exc)})") from None
