"""/proc views computed from the model: meminfo agrees with the metrics, vmstat has 2.6.6's
names, maps and status describe the tasks' address spaces, page-types counts every frame."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_snapshot_support import TINY_TOML, tiny_scenario

from scenarios.cli.main import main
from scenarios.procfs.maps import maps
from scenarios.procfs.meminfo import meminfo, meminfo_kb
from scenarios.procfs.page_types import page_types
from scenarios.procfs.status import status_fields
from scenarios.procfs.tasks import NoSuchTask
from scenarios.procfs.vmstat import vmstat, vmstat_values
from scenarios.session import Session

#: /proc/vmstat of Linux 2.6.6, in order (mm/page_alloc.c: vmstat_text).
NAMES_266 = ("nr_dirty", "nr_writeback", "nr_unstable", "nr_page_table_pages", "nr_mapped",
    "nr_slab", "pgpgin", "pgpgout", "pswpin", "pswpout", "pgalloc_high", "pgalloc_normal",
    "pgalloc_dma", "pgfree", "pgactivate", "pgdeactivate", "pgfault", "pgmajfault",
    "pgrefill_high", "pgrefill_normal", "pgrefill_dma", "pgsteal_high", "pgsteal_normal",
    "pgsteal_dma", "pgscan_kswapd_high", "pgscan_kswapd_normal", "pgscan_kswapd_dma",
    "pgscan_direct_high", "pgscan_direct_normal", "pgscan_direct_dma", "pginodesteal",
    "slabs_scanned", "kswapd_steal", "kswapd_inodesteal", "pageoutrun", "allocstall",
    "pgrotated")


def _agrees(s: Session) -> dict[str, int]:
    m = s.sample_values()  # metrics() without the oracle and the checker
    kb = meminfo_kb(s.kernel)
    assert kb["Dirty"] == m["nr_dirty"] * 4
    assert kb["Writeback"] == m["nr_writeback"] * 4
    assert kb["SwapCached"] == m["nr_swapcache"] * 4
    assert kb["MemFree"] == kb["LowFree"] == m["nr_free_pages"] * 4
    assert kb["Cached"] == m["nr_pagecache"] * 4
    assert kb["Active"] == m["nr_active"] * 4 and kb["Inactive"] == m["nr_inactive"] * 4
    assert kb["Mapped"] == m["nr_mapped"] * 4
    assert kb["PageTables"] == m["nr_page_table_pages"] * 4
    assert kb["SwapTotal"] - kb["SwapFree"] == m["swap_used_pages"] * 4
    assert kb["SwapFree"] == m["nr_swap_pages"] * 4
    assert kb["MemFree"] <= kb["MemTotal"] <= m["total_pages"] * 4
    return m


def test_meminfo_agrees_with_the_metrics_all_along_a_run() -> None:
    seen = {"nr_dirty": 0, "nr_writeback": 0, "nr_swapcache": 0}
    # the tiny scenario swaps and writes back; the default one keeps dirty pages a while
    for s, until_ns in ((Session(tiny_scenario()), None), (Session.load("default"), 150_000_000)):
        while True:
            m = _agrees(s)
            for name in seen:
                seen[name] = max(seen[name], m[name])
            if s.run(until_events=s.events + 9, until_ns=until_ns) != "events":
                break
        _agrees(s)
    assert all(seen.values()), seen  # each line was checked while it was not zero


def test_meminfo_text_is_2_6_6s_layout() -> None:
    s = Session(tiny_scenario())
    s.run(until_events=60)
    lines = meminfo(s.kernel).splitlines()
    assert [line.split(":")[0] for line in lines][:5] == ["MemTotal", "MemFree", "Buffers",
                                                         "Cached", "SwapCached"]
    assert len(lines) == 22
    assert all(re.fullmatch(r"[A-Za-z_]+:\s+\d{1,8} kB", line) and len(line) == 25
               for line in lines)


def test_vmstat_has_2_6_6s_names_in_order() -> None:
    s = Session(tiny_scenario())
    s.run(until_events=80)
    text = vmstat(s.kernel)
    assert [line.split()[0] for line in text.splitlines()] == list(NAMES_266)
    values = vmstat_values(s.kernel)
    m = s.metrics()
    assert values["pgfault"] == m["pgfault"] > 0
    assert values["pswpout"] == m["pswpout"] > 0
    assert values["pgscan_kswapd_normal"] == m["pgscan"]
    assert values["pgalloc_dma"] == values["pgalloc_high"] == 0


def test_maps_and_status_describe_the_task() -> None:
    s = Session(tiny_scenario())
    s.run(until_events=80)
    k = s.kernel
    users = [t for t in k.tasks.values() if t.mm_id >= 0]
    assert users
    for task in users:
        mm = k.mm_registry.mms[task.mm_id]
        lines = maps(k, task.pid).splitlines()
        assert len(lines) == len(mm.mmap)
        pages = 0
        for line, vma in zip(lines, mm.mmap, strict=True):
            got = re.match(r"([0-9a-f]{8})-([0-9a-f]{8}) ([r-][w-][x-][sp]) [0-9a-f]{8} "
                           r"(\d\d:\d\d) (\d+) *(\S*)", line)
            assert got, line
            assert int(got[1], 16) == vma.vm_start and int(got[2], 16) == vma.vm_end
            assert (got[4] == "00:00") == (vma.vm_file < 0) == (got[6] == "")
            pages += (vma.vm_end - vma.vm_start) >> 12
        fields = status_fields(k, task.pid)
        assert fields["Pid"] == str(task.pid) and fields["Name"] == task.name
        assert fields["VmSize"].split()[0] == str(mm.total_vm * 4) == str(pages * 4)
        assert fields["VmRSS"].split()[0] == str(mm.rss * 4)
    assert any("/data" in maps(k, t.pid) for t in users)  # the reader maps the file
    kthread = next(t for t in k.tasks.values() if t.mm_id < 0)
    assert maps(k, kthread.pid) == "" and "VmSize" not in status_fields(k, kthread.pid)
    with pytest.raises(NoSuchTask, match="no task with pid 999; the tasks: 1 "):
        maps(k, 999)


def test_page_types_counts_every_frame() -> None:
    s = Session(tiny_scenario())
    s.run(until_events=80)
    k = s.kernel
    text = page_types(k).splitlines()
    total = text[-1].split()
    assert total[0] == "total" and int(total[1]) == k.mem_map.nframes
    rows = [line.split() for line in text[1:-1]]
    assert sum(int(r[1]) for r in rows) == k.mem_map.nframes
    swapcache = sum(int(r[1]) for r in rows if len(r) > 4 and "swapcache" in r[4].split(","))
    assert swapcache == k.vmstat.nr_swapcache > 0


def test_proc_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    assert main(["proc", str(toml), "--at", "200ms", "meminfo"]) == 0
    out = capsys.readouterr().out
    s = Session(tiny_scenario())
    s.run(until_ns=200_000_000)
    assert out == meminfo(s.kernel)
    for argv, words in ((["vmstat", "4"], "vmstat takes no PID"),
                        (["maps"], "maps needs a PID"),
                        (["status", "77"], "no task with pid 77"),
                        (["--at", "soon", "meminfo"], "--at:")):
        assert main(["proc", str(toml), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err
