"""The saved form of the disk (``Disk.to_state`` / ``Disk.from_state``).

Parameters, the medium (its non-zero 4 KiB chunks: their numbers, and their bytes joined),
the queue and the request in service, the head and the counters. A borrowed save lends the
chunks instead of copying them (machine/borrowed.py).
"""

from __future__ import annotations

from machine.borrowed import BorrowedBytes
from machine.clock import Clock
from machine.disk import Disk
from machine.disk_model import DiskModel
from machine.disk_queue import DiskRequest


def vl_disk_save(disk: Disk, borrow: bool = False) -> dict[str, object]:
    """Disk.to_state: parameters, medium (non-zero chunks), queue, in-flight, counters."""
    chunk_nos, parts = disk.vl_nonzero_chunks()
    in_service: list[object] = []
    if disk.in_service is not None:
        in_service.append(disk.in_service.to_state())
    queue: list[object] = []
    for req in disk.queue:
        queue.append(req.to_state())
    return {
        "nsectors": disk.nsectors,
        "elevator": disk.elevator,
        "model": disk.model.to_state(),
        "chunks": chunk_nos,
        "chunk_data": BorrowedBytes(parts) if borrow else b"".join(parts),
        "queue": queue,
        "in_service": in_service,
        "done_seq": disk.done_seq,
        "head": disk.head,
        "next_id": disk.next_id,
        "counters": _counters_state(disk),
    }


def _counters_state(disk: Disk) -> dict[str, object]:
    return {
        "requests": disk.requests,
        "reads": disk.reads,
        "writes": disk.writes,
        "sectors_read": disk.sectors_read,
        "sectors_written": disk.sectors_written,
        "head_travel": disk.head_travel,
        "busy_ns": disk.busy_ns,
        "max_queue_depth": disk.max_queue_depth,
        "seeks": disk.seeks,
        "merges": disk.merges,
    }


def vl_disk_load(state: dict[str, object], clock: Clock) -> Disk:
    """Disk.from_state: rebuild a disk saved by ``vl_disk_save`` on ``clock``.

    Caller: ``clock`` is restored first and so already holds the pending ``EV_DISK_DONE``
    (its seq is ``done_seq``); this does not schedule it again.
    """
    elevator = state["elevator"]
    if not isinstance(elevator, str):
        raise ValueError("disk state: 'elevator' must be a str")
    model = DiskModel.from_state(_dict(state, "model"))
    disk = Disk(clock, _int(state, "nsectors"), elevator, model)
    disk.vl_load_chunks(_list(state, "chunks"), state["chunk_data"])
    for item in _list(state, "queue"):
        disk.queue.append(DiskRequest.from_state(_as_dict(item)))
    for item in _list(state, "in_service"):
        disk.in_service = DiskRequest.from_state(_as_dict(item))
    disk.done_seq = _int(state, "done_seq")
    disk.head = _int(state, "head")
    disk.next_id = _int(state, "next_id")
    disk.queue_depth = len(disk.queue) + (1 if disk.in_service is not None else 0)
    counters = _dict(state, "counters")
    disk.requests = _int(counters, "requests")
    disk.reads = _int(counters, "reads")
    disk.writes = _int(counters, "writes")
    disk.sectors_read = _int(counters, "sectors_read")
    disk.sectors_written = _int(counters, "sectors_written")
    disk.head_travel = _int(counters, "head_travel")
    disk.busy_ns = _int(counters, "busy_ns")
    disk.max_queue_depth = _int(counters, "max_queue_depth")
    disk.seeks = _int(counters, "seeks")
    disk.merges = _int(counters, "merges")
    return disk


def _int(state: dict[str, object], key: str) -> int:
    value = state[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"disk state: {key!r} must be an int")
    return value


def _list(state: dict[str, object], key: str) -> list[object]:
    value = state[key]
    if not isinstance(value, list):
        raise ValueError(f"disk state: {key!r} must be a list")
    return value


def _dict(state: dict[str, object], key: str) -> dict[str, object]:
    return _as_dict(state[key])


def _as_dict(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError("disk state: expected a dict")
    return value
