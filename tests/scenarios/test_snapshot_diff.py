"""``vmlab snapshot diff`` in kernel terms: both sides named, each differing page by pfn as
its file and index or its owners and addresses, counters side by side, ``--json``."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from scenarios.behaviour import BEHAVIOUR_VERSION
from scenarios.cli.main import main
from scenarios.profiles import profile_spec
from scenarios.schema import KernelSpec
from scenarios.session import Session
from scenarios.snapshot import read_snapshot_bytes, save_snapshot, snapshot_bytes
from scenarios.snapshot.differ import PageView, diff, diff_docs, page_owners
from tests.scenarios.fixtures.make_fixtures import EVENTS, SCENARIO


def _session(kernel: str | KernelSpec) -> Session:
    s = Session.load(str(SCENARIO), kernel=kernel)
    s.run(until_events=EVENTS)
    return s


@pytest.fixture(scope="module")
def two_kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same moment of the same scenario on 2.6.6 and on 2.6.7 (pte chains against
    anon_vma: pages differ in PG_direct)."""
    d = tmp_path_factory.mktemp("kernels")
    a = d / "old.vmsnap"
    b = d / "new.vmsnap"
    save_snapshot(_session("2.6.6"), a)
    save_snapshot(_session("2.6.7"), b)
    return a, b


def test_both_sides_are_named_with_their_kernels(two_kernels: tuple[Path, Path]) -> None:
    a, b = two_kernels
    result = diff(a, b)
    assert not result.equal
    six = "2.6.6 (writeback=tags, rmap=pte_chain, vmscan=2.6.6, swapin=2.6.6)"
    seven = "2.6.7 (writeback=tags, rmap=anon_vma, vmscan=2.6.7, swapin=2.6.7)"
    assert result.lines[0].startswith(
        f"A: {a}: snap-fixture (fixture.toml), kernel {six}, seed 11, event {EVENTS}, ")
    assert result.lines[1].startswith(
        f"B: {b}: snap-fixture (fixture.toml), kernel {seven}, seed 11, event {EVENTS}, ")
    assert f"behaviour version {BEHAVIOUR_VERSION}" in result.lines[0]
    assert result.lines[2] == f"different kernels: A {six}, B {seven}"


def test_one_switch_apart_the_pages_that_differ_are_named_by_owner(tmp_path: Path) -> None:
    """2.6.6 with pte chains against 2.6.6 with anon_vma: the same run, whose anonymous
    pages differ in PG_direct only, each named by the task and address that map it."""
    a, b = tmp_path / "chains.vmsnap", tmp_path / "objects.vmsnap"
    six = profile_spec("2.6.6")
    save_snapshot(_session(six), a)
    save_snapshot(_session(dataclasses.replace(six, rmap="anon_vma")), b)
    result = diff(a, b)
    assert result.lines[2] == (
        "different kernels: A 2.6.6 (writeback=tags, rmap=pte_chain, vmscan=2.6.6, "
        "swapin=2.6.6), B 2.6.6 (writeback=tags, rmap=anon_vma, vmscan=2.6.6, swapin=2.6.6)")
    text = "\n".join(result.lines)
    assert re.search(r"^    pfn \d+: .*mapped by pid \d+ \(child\) 0x4[0-9a-f]{7}: -PG_direct$",
                     text, re.M), text


def test_counters_side_by_side_and_pages_by_pfn(tmp_path: Path) -> None:
    s = _session("2.6.7")
    a = read_snapshot_bytes(snapshot_bytes(s), "a")
    s.run(until_events=EVENTS + 40)
    b = read_snapshot_bytes(snapshot_bytes(s), "b")
    result = diff_docs(a, b, "a.vmsnap", "b.vmsnap", pages=1000)
    text = "\n".join(result.lines)
    assert re.search(r"^counters: +A +B +B - A$", text, re.M)
    row = re.search(r"^  events +([\d,]+) +([\d,]+) +\+40$", text, re.M)
    assert row is not None and row.group(1) == f"{EVENTS}"
    by_pfn = re.findall(r"^    pfn (\d+): (.*)$", text, re.M)
    assert by_pfn
    differing = result.data["pages"]["differing"]  # type: ignore[index]
    assert [str(p["pfn"]) for p in differing] == [pfn for pfn, _ in by_pfn]
    # each page is named by what it is: a file's page by file and index, a swap-cache page by
    # its swap entry, an anonymous one as such, with who maps it where (the test above)
    named = re.compile(r"(A |B )?(file \w+ index \d+|swap cache entry 0x[0-9a-f]+|anon|free"
                       r"|mapped by pid)")
    assert all(named.match(what) for _, what in by_pfn), by_pfn


def test_a_flag_change_names_the_file_and_index() -> None:
    s = _session("2.6.6")
    a = read_snapshot_bytes(snapshot_bytes(s), "a")
    b = read_snapshot_bytes(snapshot_bytes(s), "b")
    state = b["state"]
    assert isinstance(state, dict)
    inode = next(i for i in state["sb"]["s_inodes"] if i["path"] == "data")
    pfn = inode["mapping"]["pfns"][0]
    index = state["mem_map"]["index"][pfn]
    state["mem_map"]["flags"][pfn] ^= 1 << 0  # PG_locked
    b["state_hash"] = "0" * 64
    lines = diff_docs(a, b).lines
    assert "  1 pages gained PG_locked" in lines or "  1 pages lost PG_locked" in lines
    want = re.compile(rf"^    pfn {pfn}: file data index {index}: [+-]PG_locked$")
    assert any(want.match(line) for line in lines), lines


def test_the_page_table_walk_finds_every_mapping() -> None:
    """Each user page's owners, found by walking the saved page tables, are as many as its
    _mapcount says."""
    s = _session("2.6.7")
    state = read_snapshot_bytes(snapshot_bytes(s), "x")["state"]
    assert isinstance(state, dict)
    owners = page_owners(state)
    view = PageView(state)
    assert owners
    for pfn in range(view.n):
        assert len(owners.get(pfn, [])) == view.mapcount[pfn], pfn


def test_diff_json_and_pages_option(two_kernels: tuple[Path, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_kernels
    assert main(["snapshot", "diff", str(a), str(b), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["kernel"] == {"profile": "2.6.6", "writeback": "tags",
                                   "rmap": "pte_chain", "vmscan": "2.6.6", "swapin": "2.6.6"}
    assert data["b"]["kernel"]["profile"] == "2.6.7" and data["equal"] is False
    assert data["a"]["events"] == data["b"]["events"] == EVENTS
    page = data["pages"]["differing"][0]
    assert set(page) == {"pfn", "changes", "a", "b"}
    assert set(page["a"]) >= {"what", "list", "flags", "_count", "_mapcount", "mapped_by"}
    assert main(["snapshot", "diff", str(a), str(b), "--pages", "2"]) == 1
    out = capsys.readouterr().out
    assert len(re.findall(r"^    pfn ", out, re.M)) == min(2, len(data["pages"]["differing"]))
    assert main(["snapshot", "diff", str(a), str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True
    assert main(["snapshot", "diff", str(a), str(b), "--pages", "-1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
