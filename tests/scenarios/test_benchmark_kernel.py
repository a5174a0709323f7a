"""Sanity of the ``reclaim``, ``unmap-scaling`` and ``snapshot`` workloads of ``vmlab bench``,
at tiny sizes.

The model's counters, not the timings, are checked: reclaim must free pages, the
try_to_unmap walk of an anon_vma must grow with the number of forks sharing it, and the
snapshot workload must save a swapped machine and load it back to the same state.
"""

from __future__ import annotations

from scenarios.benchmark import (
    WORKLOADS,
    reclaim_workload,
    seek_workload,
    snapshot_workload,
    unmap_workload,
)


def test_workloads_are_registered() -> None:
    assert "reclaim" in WORKLOADS
    assert "unmap-scaling" in WORKLOADS
    assert "snapshot" in WORKLOADS
    assert "replay" in WORKLOADS
    assert "seek" in WORKLOADS


def test_seek_goes_back_and_forth_within_the_budget() -> None:
    (r,) = seek_workload(8, 6, 300_000_000, 2)
    c = r.counters
    assert r.ops == 2 and r.unit == "seeks/s" and c["events"] > 0
    assert c["checkpoint_bytes"] > 0 and c["checkpoints"] >= 1


def test_snapshot_saves_and_loads_a_swapped_machine() -> None:
    save, load = snapshot_workload(8, 6, 2_000_000_000, 1)
    assert save.ops == load.ops == 1 and save.seconds > 0 and load.seconds > 0
    assert save.counters["pswpout"] > 0 and save.counters["file_bytes"] > 1000
    assert save.unit == "saves/s" and load.unit == "loads/s"


def test_reclaim_frees_pages() -> None:
    r = reclaim_workload(1000, 20)  # above 4096 LRU pages, where 2.6.7's reclaim recovers
    c = r.counters
    assert c["pgsteal"] > 0
    assert r.ops == c["pgsteal"]
    assert c["pgscan"] >= c["pgsteal"]
    assert c["pswpout"] > 0
    assert c["sim_ns"] > 0


def test_unmap_steps_per_call_grow_with_forks() -> None:
    per_call: list[float] = []
    for nforks in (1, 10):
        c = unmap_workload(nforks, 16).counters
        assert c["try_to_unmap_calls"] > 0
        per_call.append(c["try_to_unmap_steps"] / c["try_to_unmap_calls"])
    assert per_call[1] > per_call[0]
