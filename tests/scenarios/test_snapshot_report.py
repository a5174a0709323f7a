"""``vmlab snapshot report``: a snapshot as the text of a bug report, whose commands
reproduce it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kernelmodel.include.page import PAGEFLAG_NAMES
from scenarios import snapshot as snap
from scenarios.behaviour import BEHAVIOUR_VERSION
from scenarios.cli.main import main
from scenarios.flavour import flavour
from scenarios.snapshot.fileformat import HEADER, compress
from scenarios.snapshot.report import report, report_path_beside, write_report_beside
from tests.scenarios.fixtures.make_fixtures import EVENTS, fixture_path

FIXTURE = fixture_path(snap.SNAPSHOT_VERSION)


def _state_hash(json_path: Path) -> str:
    return str(json.loads(json_path.read_text())["state_hash"])


def test_the_report_says_everything_a_bug_report_needs() -> None:
    text = report(str(FIXTURE), last=7)
    doc = snap.read_snapshot(FIXTURE)
    assert text.startswith(f"# vmlab bug report: snap-fixture at event {EVENTS}")
    for want in (f"snapshot format {snap.SNAPSHOT_VERSION}",
                 f"behaviour version {BEHAVIOUR_VERSION}", f"({flavour()})",
                 "source: `fixture.toml`", "profile 2.6.5: writeback=lists, rmap=pte_chain",
                 "| seed | 11 |", f"| event | {EVENTS} |", "simulated time",
                 "saved mid-run", str(doc["state_hash"]),
                 "## Expectations so far (1 passed, 1 open)", "fsync_calls is 1",
                 "**invariant checker:** no violations", "**data oracle:** every",
                 "## Last 7 trace records", f"vmlab resume {FIXTURE.name}",
                 f"vmlab tui {FIXTURE.name}",
                 f"vmlab run snap-fixture.toml --seed 11 --kernel 2.6.5 --until {EVENTS}",
                 "save the scenario below as `snap-fixture.toml`", "```toml"):
        assert want in text, want
    trace = text.split("## Last 7 trace records")[1].split("```")[1].strip().splitlines()
    assert len(trace) == 1 + 7  # the header and seven records


def test_the_straight_run_of_the_report_reaches_the_snapshot(tmp_path: Path) -> None:
    """Save the embedded scenario as the report says and run its command: the state hash
    is the snapshot's."""
    text = report(str(FIXTURE))
    toml = text.split("```toml\n")[1].split("```")[0]
    (tmp_path / "snap-fixture.toml").write_text(toml)
    command = re.search(r"^vmlab run (.*)$", text, re.M)
    assert command is not None
    argv = command.group(1).split()
    argv[0] = str(tmp_path / argv[0])
    out = tmp_path / "r.json"
    main(["run", *argv, "--json", str(out), "--quiet"])
    assert _state_hash(out) == snap.read_snapshot(FIXTURE)["state_hash"]


def test_a_builtin_is_reproduced_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "storm.vmsnap"
    assert main(["run", "swap-storm", "--snapshot-at", "300ms", "--snapshot-out", str(path),
                 "--until", "300ms", "--quiet"]) in (0, 1)
    text = report(str(path))
    command = re.search(r"^vmlab run (swap-storm --seed 17 --until \d+)$", text, re.M)
    assert command is not None and "save the scenario below" not in text
    out = tmp_path / "r.json"
    main(["run", *command.group(1).split(), "--json", str(out), "--quiet"])
    assert _state_hash(out) == snap.read_snapshot(path)["state_hash"]


def test_a_state_the_checks_fail_on_is_reported_not_refused(tmp_path: Path) -> None:
    """The state a bug report is about may break an invariant: ``load_snapshot`` refuses
    it, the report lists what the checker says."""
    doc = snap.read_snapshot(FIXTURE)
    state = doc["state"]
    assert isinstance(state, dict)
    pfn = state["sb"]["s_inodes"][0]["mapping"]["pfns"][0]
    state["mem_map"]["flags"][pfn] |= 1 << PAGEFLAG_NAMES.index("dirty")
    doc["state_hash"] = snap.state_digest(state)
    doc["described"] = {}  # the state as read holds every byte: store it full
    import msgpack

    bad = tmp_path / "bad.vmsnap"
    bad.write_bytes(HEADER.pack(snap.MAGIC, snap.SNAPSHOT_VERSION)
                    + compress(msgpack.packb(doc, use_bin_type=True)))
    with pytest.raises(snap.SnapshotError, match="fails 2 check"):
        snap.load_snapshot(bad)
    text = report(str(bad))
    assert "**invariant checker:** 2 problem(s)" in text
    assert f"pfn {pfn} PG_dirty on clean_pages" in text
    assert "`vmlab resume` refuses a state the checks fail on" in text


def test_report_command_prints_writes_and_refuses(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "fx.vmsnap"
    shutil.copy(FIXTURE, copy)
    assert main(["snapshot", "report", str(copy), "--last", "0"]) == 0
    printed = capsys.readouterr().out
    assert "## Last 0 trace records" in printed
    out = tmp_path / "out.md"
    assert main(["snapshot", "report", str(copy), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert out.read_text().startswith("# vmlab bug report")
    assert write_report_beside(str(copy)) == report_path_beside(str(copy)) == \
        str(tmp_path / "fx.md")
    for argv in (["snapshot", "report", str(copy), "--last", "-3"],
                 ["snapshot", "report", str(copy), "--last", "many"],
                 ["snapshot", "report", str(tmp_path / "missing.vmsnap")],
                 ["snapshot", "report", str(copy), "-o", str(tmp_path / "no" / "x.md")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("vmlab snapshot:"), err
    (tmp_path / "junk.vmsnap").write_bytes(b"junk")
    assert main(["snapshot", "report", str(tmp_path / "junk.vmsnap")]) == 2
    assert "not a vmlab snapshot" in capsys.readouterr().err
