"""Sanity of the ``reclaim`` and ``unmap-scaling`` workloads of ``vmlab bench``, at tiny sizes.

The model's counters, not the timings, are checked: reclaim must free pages, and the
try_to_unmap walk of an anon_vma must grow with the number of forks sharing it.
"""

from __future__ import annotations

from scenarios.benchmark import WORKLOADS, reclaim_workload, unmap_workload


def test_workloads_are_registered() -> None:
    assert "reclaim" in WORKLOADS
    assert "unmap-scaling" in WORKLOADS


def test_reclaim_frees_pages() -> None:
    r = reclaim_workload(1000, 8)
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
