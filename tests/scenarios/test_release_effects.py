"""Per-release behaviour seen through whole scenarios: counters and traces of small runs.

Each test runs a short scenario written for one rule and checks the effect a user would see
with ``vmlab run``: a counter, or who did the work in the trace. They are whole workloads, so
they are marked slow (the compiled suite runs them).
"""

from __future__ import annotations

import io
import json

import pytest

from scenarios.loader import load_text
from scenarios.session import Session

PROFILES = ("2.6.5", "2.6.6", "2.6.7")


def traced_run(toml: str, kernel: str) -> tuple[Session, list[dict[str, object]]]:
    """Run a scenario to its end with the trace on; returns the session and the records."""
    s = Session(load_text(toml, source="effect.toml"), kernel=kernel)
    out = io.StringIO()
    s.trace_to(out)
    assert s.run() == "end"
    s.trace_to(None)
    return s, [json.loads(line) for line in out.getvalue().splitlines()]


def pid_of(s: Session, name: str) -> int:
    return next(t.pid for t in s.kernel.tasks.values() if t.name == name)


# ---- swap writeout is never held back by congestion ------------------------------------------

SWAP_UNDER_CONGESTION = """
name = "swap-under-congestion"
description = "random file writes keep the disk's queue congested while a hog needs memory"
seed = 3
duration = "20s"

[machine]
memory = "8MiB"
disk = "128MiB"
swap = "32MiB"

[[files]]
path = "big"
size = "4MiB"
content = "zero"

[[tasks]]
name = "writer"
program = ["open big", "write big 0 4KiB x 1024 random", "close big"]

[[tasks]]
name = "hog"
program = ["sleep 50ms", "mmap 0x4000_0000 6MiB anon private rw",
           "touch 0x4000_0000 6MiB write", "verify", "munmap 0x4000_0000 6MiB"]

[[expect]]
check = "oom_kill == 0 and pswpout > 0 and data_verified and invariants_ok"
"""


@pytest.mark.slow
@pytest.mark.parametrize("kernel", PROFILES)
def test_direct_reclaim_writes_swap_while_file_writes_congest_the_queue(kernel: str) -> None:
    """The hog's direct reclaim submits the swap writes itself; kswapd is not needed for it.

    With the disk's congestion applied to swap pages, the hog left almost every swap write
    to kswapd (60 of 521 on 2.6.6) and scanned the LRU a third more.
    """
    s, trace = traced_run(SWAP_UNDER_CONGESTION, kernel)
    assert all(e.ok for e in s.evaluate_expectations()), s.evaluate_expectations()
    assert s.kernel.machine.disk.max_queue_depth >= 113  # the queue was congested
    hog = pid_of(s, "hog")
    swap_outs = [r for r in trace if r["kind"] == "swap_out"]
    by_hog = sum(1 for r in swap_outs if r["pid"] == hog)
    assert s.metrics()["pswpout"] == len(swap_outs) > 0
    assert by_hog >= 0.9 * len(swap_outs), (by_hog, len(swap_outs))


# ---- 2.6.5 reclaim: writes filed on locked_pages; pdflush kicked every pass; no kswapd nap ----

PRESSURE = """
name = "reclaim-pressure"
description = "two tasks whose anonymous memory exceeds RAM, beside a dirty file"
seed = 5
duration = "20s"

[machine]
memory = "8MiB"
disk = "64MiB"
swap = "32MiB"

[tunables]
dirty_background_ratio = 40       # the file stays dirty until reclaim or fsync writes it
dirty_ratio = 80
dirty_writeback_centisecs = 0

[[files]]
path = "data"
size = "1MiB"
content = "pattern"

[[tasks]]
name = "writer"
program = ["open data", "write data 0 1MiB", "sleep 300ms", "fsync data", "close data"]

[[tasks]]
name = "hog1"
program = "hog"

[[tasks]]
name = "hog2"
program = "hog"

[programs]
hog = ["mmap 0x4000_0000 5MiB anon private rw", "touch 0x4000_0000 5MiB write",
       "sleep 50ms", "touch 0x4000_0000 5MiB read", "verify", "munmap 0x4000_0000 5MiB"]

[[expect]]
check = "oom_kill == 0 and nr_dirty == 0 and data_verified and invariants_ok"
"""


@pytest.mark.slow
def test_2_6_5_reclaim_writes_of_file_pages_sit_on_locked_pages() -> None:
    """Whenever reclaim has a page of the file under writeback, 2.6.5 keeps it on
    locked_pages, where fsync's filemap_fdatawait looks."""
    from kernelmodel.fs.fs import vl_lookup_path
    from kernelmodel.include.page import PageReclaim, PageWriteback

    s = Session(load_text(PRESSURE, source="effect.toml"), kernel="2.6.5")
    inode = vl_lookup_path(s.kernel, "data")
    assert inode is not None
    mapping = inode.i_mapping
    pages = s.kernel.mem_map.pages
    seen = 0
    while s.step(1):
        for pfn in mapping.clean_pages + mapping.dirty_pages + mapping.io_pages:
            assert not (PageReclaim(pages[pfn]) and PageWriteback(pages[pfn])), s.events
        seen += sum(1 for pfn in mapping.locked_pages
                    if PageReclaim(pages[pfn]) and PageWriteback(pages[pfn]))
    assert seen > 0  # reclaim did write pages of the file
    assert all(e.ok for e in s.evaluate_expectations()), s.evaluate_expectations()


def _kswapd_naps(trace: list[dict[str, object]]) -> int:
    return sum(1 for r in trace if r["kind"] == "kswapd" and r["s"] == "nap")


@pytest.mark.slow
def test_2_6_5_kswapd_never_naps_and_scans_far_more() -> None:
    """2.6.6's kswapd naps in blk_congestion_wait below priority 10; 2.6.5's never does
    (its zone->pages_scanned stays 0), so it rescans the LRU back to back."""
    runs = {kernel: traced_run(PRESSURE, kernel) for kernel in ("2.6.5", "2.6.6")}
    for s, _trace in runs.values():
        assert all(e.ok for e in s.evaluate_expectations()), s.evaluate_expectations()
    (s5, t5), (s6, t6) = runs["2.6.5"], runs["2.6.6"]
    assert _kswapd_naps(t6) > 0 and _kswapd_naps(t5) == 0
    assert s5.metrics()["pgscan"] > 2 * s6.metrics()["pgscan"]
    assert s5.kernel.pgdat.zone.pages_scanned == 0


# ---- do_swap_page per release -------------------------------------------------------------------

SWAPIN_AFTER_FORK = """
name = "swapin-after-fork"
description = "a parent rewrites memory it shares with its child after reclaim swapped it out"
seed = 2
duration = "30s"

[machine]
memory = "8MiB"
disk = "64MiB"
swap = "32MiB"

[[tasks]]
name = "parent"
program = "parent"

[[tasks]]
name = "hog"
program = "hog"

[programs]
parent = ["mmap 0x4000_0000 2MiB anon private rw", "touch 0x4000_0000 2MiB write",
          "fork child", "sleep 400ms", "touch 0x4000_0000 2MiB write", "wait", "verify"]
child = ["sleep 800ms", "touch 0x4000_0000 2MiB read", "verify", "exit 0"]
hog = ["sleep 50ms", "mmap 0x6000_0000 7MiB anon private rw", "touch 0x6000_0000 7MiB write",
       "sleep 500ms", "munmap 0x6000_0000 7MiB"]

[[expect]]
check = "oom_kill == 0 and cow_faults == 512 and data_verified and invariants_ok"
"""


@pytest.mark.slow
def test_swapin_release_decides_whether_a_cow_write_faults_twice() -> None:
    """The parent's 512 pages were swapped out while its child shared them. Rewriting them,
    2.6.6's do_swap_page maps each read-only and the write faults again into do_wp_page;
    2.6.7's copies inside the swap-in fault: one page fault fewer per page, same copies."""
    from scenarios.compare import plan_columns, run_column

    scenario = load_text(SWAPIN_AFTER_FORK, source="effect.toml")
    columns = plan_columns(scenario, ["2.6.6"], swapin=["2.6.6", "2.6.7"])
    assert [c.label() for c in columns] == ["2.6.6", "2.6.6 swapin=2.6.7"]
    old, new = (run_column(scenario, c, scenario.seed) for c in columns)
    for col in (old, new):
        assert all(e.ok for e in col.expectations), col.expectations
    assert old.metrics["pswpin"] == new.metrics["pswpin"] > 0
    assert old.metrics["pgfault"] - new.metrics["pgfault"] == 512
