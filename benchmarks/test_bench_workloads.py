"""pytest-benchmark wrappers around the ``vmlab bench`` workloads.

Run with ``pytest benchmarks`` (not collected by a plain ``pytest``: testpaths is tests/).
Each workload reports its own operation count; pytest-benchmark times the whole call.
"""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.benchmark import WORKLOADS


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload(benchmark: Any, name: str) -> None:
    results = benchmark.pedantic(WORKLOADS[name], args=(True,), rounds=3, iterations=1)
    assert all(r.ops > 0 for r in results)
    benchmark.extra_info.update({r.name: round(r.rate) for r in results})


def test_unmap_scaling_steps(benchmark: Any) -> None:
    results = benchmark.pedantic(WORKLOADS["unmap-scaling"], args=(True,), rounds=1, iterations=1)
    for r in results:
        calls = r.counters["try_to_unmap_calls"]
        assert calls > 0
        benchmark.extra_info[f"{r.name}: steps per call"] = r.counters["try_to_unmap_steps"] / calls


def test_reclaim_counters(benchmark: Any) -> None:
    results = benchmark.pedantic(WORKLOADS["reclaim"], args=(True,), rounds=1, iterations=1)
    for r in results:
        assert r.counters["pgsteal"] > 0
        benchmark.extra_info.update({f"{r.name}: {k}": v for k, v in r.counters.items()})
