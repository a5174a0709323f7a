"""The saved form of the disk (``Disk.to_state`` / ``Disk.from_state``).

Parameters, the medium (its non-zero 4 KiB chunks: their numbers, and their bytes joined),
the queue and the request in service, the head and the counters. A borrowed save lends the
chunks instead of copying them (machine/borrowed.py).
"""

from __future__ import annotations

from machine.borrowed import BorrowedBytes
from machine.clock import Clock
from machine.disk import Disk
from machine.state_generated import (
    load_disk_model,
    load_disk_request,
    save_disk_model,
    save_disk_request,
)
from machine.state_read import (
    read_bytes,
    read_dict,
    read_dict_list,
    read_int,
    read_list,
    read_str,
)

#: What the loader's errors name.
_W = "disk state"


def vl_disk_save(disk: Disk, borrow: bool = False) -> dict[str, object]:
    """Disk.to_state: parameters, medium (non-zero chunks), queue, in-flight, counters."""
    chunk_nos, parts = disk.vl_nonzero_chunks()
    in_service: list[object] = []
    if disk.in_service is not None:
        disk.in_service.vl_join()
        in_service.append(save_disk_request(disk.in_service))
    queue: list[object] = []
    for req in disk.queue:
        req.vl_join()
        queue.append(save_disk_request(req))
    return {
        "nsectors": disk.nsectors,
        "elevator": disk.elevator,
        "model": save_disk_model(disk.model),
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
    model = load_disk_model(read_dict(state, "model", _W))
    disk = Disk(clock, read_int(state, "nsectors", _W), read_str(state, "elevator", _W), model)
    disk.vl_load_chunks(read_list(state, "chunks", _W), read_bytes(state, "chunk_data", _W))
    disk.queue = [load_disk_request(item) for item in read_dict_list(state, "queue", _W)]
    for item in read_dict_list(state, "in_service", _W):
        disk.in_service = load_disk_request(item)
    disk.done_seq = read_int(state, "done_seq", _W)
    disk.head = read_int(state, "head", _W)
    disk.next_id = read_int(state, "next_id", _W)
    disk.queue_depth = len(disk.queue) + (1 if disk.in_service is not None else 0)
    counters = read_dict(state, "counters", _W)
    disk.requests = read_int(counters, "requests", _W)
    disk.reads = read_int(counters, "reads", _W)
    disk.writes = read_int(counters, "writes", _W)
    disk.sectors_read = read_int(counters, "sectors_read", _W)
    disk.sectors_written = read_int(counters, "sectors_written", _W)
    disk.head_travel = read_int(counters, "head_travel", _W)
    disk.busy_ns = read_int(counters, "busy_ns", _W)
    disk.max_queue_depth = read_int(counters, "max_queue_depth", _W)
    disk.seeks = read_int(counters, "seeks", _W)
    disk.merges = read_int(counters, "merges", _W)
    return disk
