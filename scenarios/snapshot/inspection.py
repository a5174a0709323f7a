"""Looking into a snapshot without restoring it: ``vmlab snapshot info`` and ``decode``.

``snapshot_info`` summarises a file (scenario, kernel, time, events, tasks, checkpoints,
counters, state hash, versions and what takes the space); ``decode`` gives the map, or one
section of it, as readable JSON. Both read a checked map (scenarios/snapshot/read.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from kernelmodel.inspect.declared import SECTIONS, vl_declared_keys
from scenarios.snapshot.errors import SnapshotError
from scenarios.snapshot.fields import get_int, get_path
from scenarios.snapshot.fileformat import HEADER, read_file, read_payload
from scenarios.snapshot.read import read_snapshot, read_snapshot_bytes
from scenarios.snapshot.space import space


def state_counters(state: dict[str, object]) -> dict[str, int]:
    """The counters of a saved state by name: vmstat, the zone's free and LRU pages, the disk
    and the TLB (``Kernel.metrics`` names, read from plain data)."""
    out: dict[str, int] = {}
    vm = state.get("vmstat")
    if isinstance(vm, dict):
        for name in vl_declared_keys(SECTIONS["vmstat"]):  # the counters PageState declares
            value = vm.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                out[name] = value
    zone = get_path(state, "pgdat", "zone")
    out["nr_free_pages"] = get_int(zone, "free_pages")
    out["nr_active"] = get_int(zone, "nr_active")
    out["nr_inactive"] = get_int(zone, "nr_inactive")
    disk = get_path(state, "machine", "disk", "counters")
    for name, key in (("head_travel_sectors", "head_travel"), ("disk_busy_ns", "busy_ns"),
                      ("disk_requests", "requests"), ("disk_reads", "reads"),
                      ("disk_writes", "writes"), ("disk_sectors_read", "sectors_read"),
                      ("disk_sectors_written", "sectors_written"), ("disk_seeks", "seeks")):
        out[name] = get_int(disk, key)
    for name in ("tlb_hits", "tlb_misses", "page_walks", "tlb_flushes", "invlpgs"):
        out[name] = get_int(state, "machine", "mmu", name)
    out["cpu_accesses"] = get_int(state, "machine", "cpu", "accesses")
    return out


def snapshot_info(path: str | os.PathLike[str]) -> dict[str, object]:
    """What a snapshot holds, without restoring it: scenario, kernel, time, events, tasks,
    checkpoints, counters, state hash, versions.

    Raises:
        SnapshotError: the file is not a readable snapshot.
    """
    where = os.path.basename(os.fspath(path))
    data = read_file(path)
    doc = read_snapshot_bytes(data, where)
    state = doc["state"]
    assert isinstance(state, dict)
    described = doc["described"]
    assert isinstance(described, dict)
    pages = 0
    for part in ("mem", "disk", "oracle"):
        listed = get_path(described, part, "pages")
        pages += len(listed) if isinstance(listed, list) else 0
    try:
        shares = space(read_payload(data, where)[1])
    except ValueError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    tasks: list[object] = []
    task_list = get_path(state, "kernel", "tasks")
    for t in task_list if isinstance(task_list, list) else []:
        tasks.append({"pid": get_int(t, "pid"), "name": str(get_path(t, "name")),
                      "state": task_state_name(get_path(t, "state")), "doing": task_doing(t)})
    hits = get_path(doc, "session", "checkpoints")
    return {
        "file": os.fspath(path),
        "bytes": len(data),
        "format_version": HEADER.unpack_from(data)[1],
        "vmlab_version": doc["vmlab_version"],
        "behaviour_version": doc["behaviour_version"],
        "scenario": get_path(doc, "scenario", "doc", "name"),
        "description": get_path(doc, "scenario", "doc", "description"),
        "source": get_path(doc, "scenario", "source"),
        "kernel": get_path(doc, "scenario", "kernel"),
        "seed": get_path(doc, "scenario", "seed"),
        "sim_time_ns": get_int(state, "machine", "clock", "now"),
        "events": get_int(state, "machine", "events"),
        "end_reason": get_path(doc, "session", "end_reason"),
        "checkpoints": [str(get_path(h, "name")) for h in hits] if isinstance(hits, list) else [],
        "expectations": get_path(doc, "session", "expectations"),
        "tasks": tasks,
        "counters": state_counters(state),
        "state_hash": doc["state_hash"],
        "described_pages": pages,
        "space": [{"section": s.section, "raw": s.raw, "compressed": s.compressed}
                  for s in shares],
    }


def task_state_name(state: object) -> str:
    """A saved task state by its kernel name (``TASK_RUNNING``...), else as it is."""
    from kernelmodel.kernel.task import TASK_STATE_NAMES

    if isinstance(state, int) and state in TASK_STATE_NAMES:
        return TASK_STATE_NAMES[state]
    return str(state)


def task_doing(task: object) -> str:
    """The top kernel op and what the task waits on, in a few words."""
    kstack = get_path(task, "kstack")
    top = ""
    if isinstance(kstack, list) and kstack:
        top = str(get_path(kstack[-1], "op"))
    wait = get_path(task, "wait_key")
    parts = [p for p in (top, f"waiting on {wait}" if wait else "") if p]
    return ", ".join(parts)


# ---- decode ------------------------------------------------------------------------------------


def _section(doc: dict[str, object], section: str | None) -> object:
    """The part of the map ``section`` names (dotted keys; list items by index)."""
    if not section:
        return doc
    node: object = doc
    walked: list[str] = []
    for part in section.split("."):
        if isinstance(node, dict):
            if part not in node:
                keys = ", ".join(str(k) for k in node)
                where = ".".join(walked) or "the snapshot"
                raise SnapshotError(f'no section "{part}" in {where} (it has: {keys})')
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SnapshotError(f'"{part}" is not an index of {".".join(walked)} '
                                    f"(0..{len(node) - 1})")
            node = node[int(part)]
        else:
            raise SnapshotError(f"{'.'.join(walked)} is a value, not a section")
        walked.append(part)
    return node


def _json_bytes(value: bytes, full: bool) -> dict[str, object]:
    if full:
        return {"$bytes": len(value), "base64": base64.b64encode(value).decode("ascii")}
    if len(value) <= 64:
        return {"$bytes": len(value), "hex": value.hex()}
    return {"$bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}


class _JsonWriter:
    """Readable JSON: maps one key a line, lists of plain values on one line (iterative)."""

    def __init__(self, full_bytes: bool) -> None:
        self.full_bytes = full_bytes
        self.lines: list[str] = []

    def _leaf(self, value: object) -> str | None:
        """The one-line JSON of a value that needs no lines of its own, else None."""
        if isinstance(value, bytes):
            return json.dumps(_json_bytes(value, self.full_bytes))
        if isinstance(value, dict):
            return "{}" if not value else None
        if isinstance(value, list):
            if any(isinstance(v, (dict, list)) for v in value):
                return None
            parts = [json.dumps(_json_bytes(v, self.full_bytes)) if isinstance(v, bytes)
                     else json.dumps(v) for v in value]
            return "[" + ", ".join(parts) + "]"
        return json.dumps(value)

    def write(self, root: object) -> str:
        leaf = self._leaf(root)
        if leaf is not None:
            return leaf + "\n"
        # frames: (items, next index, indent, closing bracket)
        stack: list[tuple[list[tuple[str, object]], int, int, str]] = []
        self._open(stack, "", root, 0, last=True)
        while stack:
            items, i, indent, closing = stack.pop()
            if i >= len(items):
                self.lines.append(" " * indent + closing)
                if stack:
                    self._comma_if_more(stack)
                continue
            stack.append((items, i + 1, indent, closing))
            prefix, value = items[i]
            self._open(stack, prefix, value, indent + 1, last=i + 1 >= len(items))
        return "\n".join(self.lines) + "\n"

    def _comma_if_more(self, stack: list[tuple[list[tuple[str, object]], int, int, str]]) -> None:
        items, i, _indent, _closing = stack[-1]
        if i < len(items):
            self.lines[-1] += ","

    def _open(self, stack: list[tuple[list[tuple[str, object]], int, int, str]], prefix: str,
              value: object, indent: int, last: bool) -> None:
        pad = " " * indent
        leaf = self._leaf(value)
        if leaf is not None:
            self.lines.append(pad + prefix + leaf + ("" if last else ","))
            return
        if isinstance(value, dict):
            items = [(json.dumps(str(k)) + ": ", v) for k, v in value.items()]
            self.lines.append(pad + prefix + "{")
            stack.append((items, 0, indent, "}"))
        else:
            assert isinstance(value, list)
            self.lines.append(pad + prefix + "[")
            stack.append(([("", v) for v in value], 0, indent, "]"))


def decode(path: str | os.PathLike[str], section: str | None = None,
           full_bytes: bool = False) -> str:
    """The snapshot (or one ``section`` of it, e.g. ``state.kernel.tasks``) as readable JSON.

    Byte strings show as ``{"$bytes": n, "hex": ...}`` up to 64 bytes, else with their
    sha256; ``full_bytes`` gives every byte string in base64.

    Raises:
        SnapshotError: the file is not a readable snapshot, or no such section.
    """
    doc = read_snapshot(path)
    return _JsonWriter(full_bytes).write(_section(doc, section))
