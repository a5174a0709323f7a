"""The dashboard's read-only view of files, the page cache's radix trees, the disk and the trace.

Like ``tui.view``, every function reads the model and returns plain data; nothing here imports
Textual or changes the model. Callers hold the model between events (main thread, after a
slice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from kernelmodel.fs.fs import BLOCK_SECTORS
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.lib.radix_tree import RadixTreeNode, RadixTreeRoot
from kernelmodel.mm.filemap import AddressSpace

# ---- files and radix trees ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    """One file of the page-cache table."""

    ino: int
    path: str
    size: int
    nrpages: int
    dirty: int
    writeback: int
    height: int
    nodes: int
    mapped_by: int


@dataclass(frozen=True)
class NodeRow:
    """One radix-tree node as the tree view draws it.

    ``slots`` has one character per slot: ``.`` empty, ``o`` a clean page (leaf) or a child
    with no tag (interior, ``+``), ``D`` DIRTY, ``W`` WRITEBACK, ``B`` both.
    """

    depth: int
    level: int
    first: int
    last: int
    count: int
    slots: str
    dirty: int
    writeback: int


def _popcount(x: int) -> int:
    return bin(x).count("1")


def _slot_char(present: bool, dirty: bool, wb: bool, leaf: bool) -> str:
    if not present:
        return "."
    if dirty and wb:
        return "B"
    if dirty:
        return "D"
    if wb:
        return "W"
    return "o" if leaf else "+"


def _node_slots(node: RadixTreeNode, size: int, leaf: bool) -> str:
    t0 = node.vl_tags(0)
    t1 = node.vl_tags(1)
    chars: list[str] = []
    for i in range(size):
        present = (node.items[i] is not None) if leaf else (node.slots[i] is not None)
        chars.append(_slot_char(present, bool(t0 >> i & 1), bool(t1 >> i & 1), leaf))
    return "".join(chars)


def radix_nodes(root: RadixTreeRoot, max_nodes: int = 400) -> tuple[list[NodeRow], int]:
    """The tree's nodes in preorder (an explicit stack, no recursion).

    Returns:
        Up to ``max_nodes`` rows, and how many nodes were left out.
    """
    rows: list[NodeRow] = []
    node0 = root.rnode
    if node0 is None:
        return rows, 0
    shift = int(root.map_shift)
    size = int(root.vl_map_size)
    stack: list[tuple[RadixTreeNode, int, int, int]] = [(node0, int(root.height), 0, 0)]
    skipped = 0
    while stack:
        node, level, base, depth = stack.pop()
        if len(rows) >= max_nodes:
            skipped += 1
            continue
        leaf = level == 1
        span = 1 << (shift * level)
        rows.append(NodeRow(depth, level, base, base + span - 1, int(node.count),
                            _node_slots(node, size, leaf), _popcount(node.vl_tags(0)),
                            _popcount(node.vl_tags(1))))
        if leaf:
            continue
        child_span = 1 << (shift * (level - 1))
        for i in range(size - 1, -1, -1):
            child = node.slots[i]
            if child is not None:
                stack.append((child, level - 1, base + i * child_span, depth + 1))
    return rows, skipped


def tagged_counts(root: RadixTreeRoot) -> tuple[int, int]:
    """(DIRTY, WRITEBACK) tagged items, counted from the leaves' tag bitmaps."""
    dirty = 0
    wb = 0
    node0 = root.rnode
    if node0 is None:
        return 0, 0
    stack: list[tuple[RadixTreeNode, int]] = [(node0, int(root.height))]
    while stack:
        node, level = stack.pop()
        if level == 1:
            dirty += _popcount(node.vl_tags(0))
            wb += _popcount(node.vl_tags(1))
            continue
        for child in node.slots:
            if child is not None:
                stack.append((child, level - 1))
    return dirty, wb


def file_rows(k: Kernel) -> list[FileRow]:
    """Every inode of the filesystem, in inode order."""
    rows: list[FileRow] = []
    for ino in sorted(k.sb.s_inodes):
        inode = k.sb.s_inodes[ino]
        m = inode.i_mapping
        dirty, wb = tagged_counts(m.page_tree)
        rows.append(FileRow(ino, inode.vl_path, inode.i_size, m.nrpages, dirty, wb,
                            int(m.page_tree.height), int(m.page_tree.nr_nodes),
                            len(m.i_mmap) + len(m.i_mmap_shared)))
    return rows


def file_mapping(k: Kernel, ino: int) -> AddressSpace | None:
    """The page cache of inode ``ino`` (None if it is gone)."""
    inode = k.sb.s_inodes.get(ino)
    return inode.i_mapping if inode is not None else None


# ---- disk ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    """A queued or in-service disk request."""

    req_id: int
    write: bool
    sector: int
    nsect: int
    submit_ns: int
    start_ns: int
    done_ns: int


@dataclass(frozen=True)
class DiskInfo:
    """The disk at one moment."""

    nsectors: int
    head: int
    cylinder: int
    ncyl: int
    elevator: str
    queue: tuple[RequestRow, ...]
    in_service: RequestRow | None
    counters: tuple[tuple[str, int], ...]
    swap_start: int


def _request_row(r: object) -> RequestRow:
    from machine.disk import DiskRequest

    assert isinstance(r, DiskRequest)
    return RequestRow(r.req_id, r.write, r.sector, r.nsect, r.submit_ns, r.start_ns, r.done_ns)


def disk_info(k: Kernel) -> DiskInfo:
    """Head, queue, request in service and the disk's counters."""
    d = k.machine.disk
    counters = (
        ("requests", d.requests),
        ("reads", d.reads),
        ("writes", d.writes),
        ("sectors read", d.sectors_read),
        ("sectors written", d.sectors_written),
        ("head travel (sectors)", d.head_travel),
        ("seeks", d.seeks),
        ("busy (ns)", d.busy_ns),
        ("max queue depth", d.max_queue_depth),
    )
    swap_start = -1
    if k.swap.swap_info:
        swap_start = k.swap.swap_info[0].start_sector
    in_service = _request_row(d.in_service) if d.in_service is not None else None
    return DiskInfo(d.nsectors, d.head, d.cylinder(d.head), d.ncyl, d.elevator,
                    tuple(_request_row(r) for r in d.queue), in_service, counters, swap_start)


# ---- trace events -------------------------------------------------------------------------------

#: Kinds whose ``a`` is a pfn (and ``b`` the page index).
PAGE_KINDS: Final = frozenset({"dirty", "writeback_start", "writeback_end"})
#: Kinds whose ``a`` is a frame and ``s`` says what was decided (reclaim's per-page records)
#: or ``b`` a swap entry (swap I/O).
FRAME_KINDS: Final = frozenset({"reclaim_page", "refill_page", "activate", "swap_out",
                                "swap_in"})
#: Kinds whose ``a`` is a disk sector (and ``b`` a sector count).
IO_KINDS: Final = frozenset({"io_submit", "io_complete"})


class EventRec(NamedTuple):
    """A trace event as the dashboard keeps it: the record plus names resolved when read.

    ``pid`` is -1 for events in interrupt context (a disk completion), shown as "irq".
    ``comm`` is the task's name and ``file``/``pfn`` the file and frame the event concerns,
    looked up when the dashboard read the event (after the slice that emitted it), so a frame
    freed and reused within that slice shows its later owner.
    """

    seq: int
    time: int
    kind: str
    pid: int
    a: int
    b: int
    s: str
    comm: str
    file: str
    pfn: int


class BlockOwners:
    """Which file owns each disk block (from the inodes' block maps), rebuilt when they change.

    Lets the event log name the file an I/O request is for, and "swap" for the swap area.
    """

    def __init__(self) -> None:
        self._key: tuple[int, int, int] = (-1, -1, -1)
        self._owner: dict[int, str] = {}

    def name(self, k: Kernel, sector: int) -> str:
        """The file (or "swap") that ``sector`` belongs to; "" if none."""
        if k.swap.swap_info and sector >= k.swap.swap_info[0].start_sector:
            return "swap"
        sb = k.sb
        key = (sb.s_next_block, sb.s_free_blocks, len(sb.s_inodes))
        if key != self._key:
            self._key = key
            self._owner = {}
            for inode in sb.s_inodes.values():
                for block in inode.i_blocks.values():
                    self._owner[block] = inode.vl_path
        return self._owner.get(sector // BLOCK_SECTORS, "")


def resolve_event(k: Kernel, seq: int, time: int, kind: str, pid: int, a: int, b: int,
                  s: str, owners: BlockOwners | None = None) -> EventRec:
    """Attach the task name, the file and the frame to a raw trace record."""
    task = k.tasks.get(pid)
    comm = task.name if task is not None else ""
    file = ""
    pfn = -1
    if kind in PAGE_KINDS or kind in FRAME_KINDS:
        pfn = a
        if 0 <= a < k.mem_map.nframes:
            mapping = k.mem_map.pages[a].mapping
            if isinstance(mapping, AddressSpace):
                inode = k.sb.s_inodes.get(mapping.host)
                file = inode.vl_path if inode is not None else ""
    elif kind == "cow" or (kind == "unmap" and b >= 0):
        pfn = b
    elif kind in IO_KINDS and owners is not None:
        file = owners.name(k, a)
    elif kind.startswith("fsync"):
        inode = k.sb.s_inodes.get(a)
        file = inode.vl_path if inode is not None else s
    return EventRec(seq, time, kind, pid, a, b, s, comm, file, pfn)


def fmt_time(ns: int) -> str:
    """Simulated time as seconds with microseconds: "12.345678s"."""
    return f"{ns // 1_000_000_000}.{ns // 1000 % 1_000_000:06d}s"


def event_detail(ev: EventRec) -> str:
    """The event's numbers in words."""
    kind = ev.kind
    if kind in PAGE_KINDS:
        where = f" {ev.file}" if ev.file else ""
        return f"pfn {ev.a:#x} index {ev.b}{where}"
    if kind in IO_KINDS:
        where = f" {ev.file}" if ev.file else ""
        return f"{ev.s} sector {ev.a} +{ev.b}{where}"
    if kind == "fsync_begin":
        return f"{ev.file} (inode {ev.a}){' datasync' if ev.b else ''}"
    if kind == "fsync_end":
        return f"{ev.file} (inode {ev.a}) ret {ev.b} after {ev.s}"
    if kind == "cow":
        return f"{ev.a:#010x} copied to pfn {ev.b:#x}"
    if kind == "fault":
        return f"{ev.a:#010x} {ev.s}"
    if kind == "unmap":
        frame = f" pfn {ev.b:#x}" if ev.b >= 0 else ""
        return f"{ev.a:#010x}{frame} {ev.s}"
    if kind in FRAME_KINDS:
        where = f" {ev.file}" if ev.file else ""
        if kind.startswith("swap_"):
            return f"pfn {ev.a:#x} swap entry {ev.b:#x}"
        return f"pfn {ev.a:#x} {ev.s}{where}"
    if kind == "map":
        return f"{ev.a:#010x} +{ev.b:#x} {ev.s}"
    if kind == "pdflush":
        return f"{ev.s} (job {ev.a}, argument {ev.b})"
    if kind in ("syscall", "task", "segv", "oom"):
        return ev.s
    if kind == "checkpoint":
        return f"{ev.s} (#{ev.a})"
    if kind == "reclaim_scan":
        return f"scanned {ev.a} freed {ev.b}"
    if kind == "throttle":
        return f"{ev.s}: written {ev.a} waited {ev.b} ns"
    return f"{ev.s} {ev.a} {ev.b}".strip()


def event_text(ev: EventRec) -> str:
    """One plain line for an event (what bare filter words are matched against)."""
    who = f"{ev.pid} {ev.comm}" if ev.pid >= 0 else "irq"
    return f"{fmt_time(ev.time)} #{ev.seq} {who} {ev.kind} {event_detail(ev)}"


#: Filter keys and what they match.
FILTER_KEYS: Final = {
    "kind": "event kind, by prefix (kind:writeback matches writeback_start and _end)",
    "task": "task pid or name",
    "file": "file name (events on its pages, its disk I/O, its fsyncs); swap for swap I/O",
    "frame": "frame number, hex or decimal (pfn:0x1a3 works too)",
}


def _parse_int(text: str) -> int:
    t = text.strip().lower().replace("_", "")
    return int(t, 16) if t.startswith("0x") else int(t, 10)


@dataclass(frozen=True)
class EventFilter:
    """Space-separated terms, all of which must match; a term may list values with commas.

    ``kind:K``, ``task:PID|NAME``, ``file:NAME``, ``frame:N`` (or ``pfn:N``); a bare word
    matches the event's text.
    """

    text: str = ""
    kinds: tuple[tuple[str, ...], ...] = ()
    tasks: tuple[tuple[str, ...], ...] = ()
    files: tuple[tuple[str, ...], ...] = ()
    frames: tuple[tuple[int, ...], ...] = ()
    words: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True when the filter hides something."""
        return bool(self.kinds or self.tasks or self.files or self.frames or self.words)

    @staticmethod
    def parse(text: str) -> EventFilter:
        """Parse the filter line.

        Raises:
            ValueError: an unknown key or a bad frame number (one line).
        """
        kinds: list[tuple[str, ...]] = []
        tasks: list[tuple[str, ...]] = []
        files: list[tuple[str, ...]] = []
        frames: list[tuple[int, ...]] = []
        words: list[str] = []
        for term in text.split():
            key, sep, value = term.partition(":")
            if not sep:
                words.append(term.lower())
                continue
            values = tuple(v for v in value.split(",") if v)
            if not values:
                raise ValueError(f'"{term}": give a value after "{key}:"')
            if key == "kind":
                kinds.append(values)
            elif key in ("task", "pid"):
                tasks.append(values)
            elif key == "file":
                files.append(values)
            elif key in ("frame", "pfn"):
                try:
                    frames.append(tuple(_parse_int(v) for v in values))
                except ValueError:
                    raise ValueError(f'"{term}": a frame is a number (0x1a3 or 419)') from None
            else:
                known = ", ".join(f"{k}:" for k in FILTER_KEYS)
                raise ValueError(f'unknown filter key "{key}:" (expected {known} or a word)')
        return EventFilter(text.strip(), tuple(kinds), tuple(tasks), tuple(files),
                           tuple(frames), tuple(words))

    def matches(self, ev: EventRec) -> bool:
        """True when every term matches ``ev``."""
        for kinds in self.kinds:
            if not any(ev.kind.startswith(k) for k in kinds):
                return False
        for tasks in self.tasks:
            if not any(t == ev.comm or t == str(ev.pid) for t in tasks):
                return False
        for files in self.files:
            if not any(f == ev.file or f in ev.s.split() for f in files):
                return False
        for frames in self.frames:
            if ev.pfn not in frames:
                return False
        if self.words:
            line = event_text(ev).lower()
            return all(w in line for w in self.words)
        return True
