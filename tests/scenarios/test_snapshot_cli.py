"""The snapshot commands (scenarios/cli/run.py --snapshot-at, resume.py, snapshot_cmd.py),
called in-process through ``main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_snapshot_support import TINY_TOML

from scenarios.cli.main import SUBCOMMANDS, main
from scenarios.snapshot import read_snapshot


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scn") / "snap-tiny.toml"
    p.write_text(TINY_TOML)
    return p


@pytest.fixture(scope="module")
def full_run(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """'vmlab run' to the end, snapshotting at 150 events on the way."""
    d = tmp_path_factory.mktemp("full")
    assert main(["run", str(scenario_file), "--quiet", "--json", str(d / "run.json"),
                 "--snapshot-at", "150", "--snapshot-out", str(d / "at150.vmsnap")]) == 0
    out = json.loads((d / "run.json").read_text())
    assert isinstance(out, dict)
    out["_snapshot"] = str(d / "at150.vmsnap")
    return out


def test_subcommands_are_registered() -> None:
    assert SUBCOMMANDS["resume"][0] == "resume"
    assert SUBCOMMANDS["snapshot"][0] == "snapshot_cmd"


def test_resume_prints_what_run_prints(full_run: dict[str, object], tmp_path: Path) -> None:
    snap = str(full_run["_snapshot"])
    doc = read_snapshot(snap)
    assert doc["session"]["events"] == 150  # type: ignore[index]
    out = tmp_path / "resume.json"
    assert main(["resume", snap, "--quiet", "--json", str(out)]) == 0
    resumed = json.loads(out.read_text())
    assert resumed == {k: v for k, v in full_run.items() if k != "_snapshot"}


@pytest.mark.parametrize("point", ["300ms", "logged", "40"])
def test_snapshot_at_each_kind_of_point(scenario_file: Path, tmp_path: Path,
                                        full_run: dict[str, object], point: str) -> None:
    snap = tmp_path / "p.vmsnap"
    assert main(["run", str(scenario_file), "--quiet", "--until", "250",
                 "--snapshot-at", point, "--snapshot-out", str(snap)]) in (0, 1)
    doc = read_snapshot(snap)
    session = doc["session"]
    assert isinstance(session, dict)
    if point == "300ms":
        assert session["sim_time_ns"] <= 300_000_000
    elif point == "logged":
        assert [c["name"] for c in session["checkpoints"]][-1] == "logged"
    else:
        assert session["events"] == 40
    out = tmp_path / "rest.json"
    assert main(["resume", str(snap), "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["state_hash"] == full_run["state_hash"]


def test_until_before_the_snapshot_point_snapshots_where_it_stopped(
        scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "early.vmsnap"
    rc = main(["run", str(scenario_file), "--quiet", "--until", "30",
               "--snapshot-at", "100", "--snapshot-out", str(snap)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err == ("vmlab run: the run stopped before --snapshot-at event 100; the snapshot was "
                   "taken where it stopped\n")
    session = read_snapshot(snap)["session"]
    assert session["events"] == 30  # type: ignore[index]


def test_resume_until_and_trace(full_run: dict[str, object], tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    out = tmp_path / "r.json"
    snap = str(full_run["_snapshot"])
    assert main(["resume", snap, "--quiet", "--until", "200", "--json", str(out),
                 "--trace", str(trace)]) in (0, 1)
    result = json.loads(out.read_text())
    assert result["events"] == 200 and result["stopped"] == "events"
    # the exit code is the expectations' verdict at the point where --until stopped the run
    verdict = 0 if all(e["ok"] for e in result["expectations"]) else 1
    assert main(["resume", snap, "--quiet", "--until", "200"]) == verdict
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines and all(set(x) == {"seq", "time_ns", "kind", "pid", "a", "b", "s"} for x in lines)
    assert lines[0]["time_ns"] >= read_snapshot(snap)["session"]["sim_time_ns"]  # type: ignore[index]


def test_resume_can_snapshot_again(full_run: dict[str, object], tmp_path: Path) -> None:
    again = tmp_path / "again.vmsnap"
    out = tmp_path / "r.json"
    assert main(["resume", str(full_run["_snapshot"]), "--quiet", "--json", str(out),
                 "--snapshot-at", "300", "--snapshot-out", str(again)]) == 0
    assert json.loads(out.read_text())["state_hash"] == full_run["state_hash"]
    out2 = tmp_path / "r2.json"
    assert main(["resume", str(again), "--quiet", "--json", str(out2)]) == 0
    assert json.loads(out2.read_text())["state_hash"] == full_run["state_hash"]


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "{scn}", "--snapshot-at", "10"],
     "vmlab run: --snapshot-out FILE is needed too (--snapshot-at POINT --snapshot-out FILE)"),
    (["run", "{scn}", "--snapshot-out", "{tmp}/x.vmsnap"],
     "vmlab run: --snapshot-at POINT is needed too"),
    (["run", "{scn}", "--snapshot-at", "soon", "--snapshot-out", "{tmp}/x.vmsnap"],
     'vmlab run: --snapshot-at: "soon" is not a time (2s), an event count (100000), a '
     "check (nr_dirty == 0) or a checkpoint of snap-tiny; its checkpoints: logged, filled"),
    (["run", "{scn}", "--until", "5", "--snapshot-at", "5",
      "--snapshot-out", "{tmp}/no/dir/x.vmsnap"], "vmlab run: cannot write "),
    (["resume", "{tmp}/missing.vmsnap"], "vmlab resume: cannot read "),
    (["resume", "{snap}", "--until", "never"], 'vmlab resume: --until: "never" is not a time'),
    (["snapshot", "info", "{tmp}/missing.vmsnap"], "vmlab snapshot: cannot read "),
    (["snapshot", "decode", "{snap}", "--section", "state.kernel.tasks.99"],
     'vmlab snapshot: "99" is not an index of state.kernel.tasks (0..'),
    (["snapshot", "decode", "{snap}", "--section", "state.rng.state.x"],
     "vmlab snapshot: state.rng.state is a value, not a section"),
])
def test_bad_input_exits_2_with_one_line(
        argv: list[str], expected: str, scenario_file: Path, full_run: dict[str, object],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = {"{scn}": str(scenario_file), "{tmp}": str(tmp_path),
            "{snap}": str(full_run["_snapshot"])}
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    assert main([*args, "--quiet"] if args[0] in ("run", "resume") else args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(expected), err


def test_snapshot_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["snapshot"])
    assert exc.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback(full_run: dict[str, object]) -> None:
    """``vmlab snapshot decode FILE | head -1``: the reader is gone while vmlab still writes
    (here before it starts, so every write fails); vmlab stops quietly, as SIGPIPE would
    stop it, with no traceback."""
    root = Path(__file__).resolve().parents[2]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "scenarios.cli.main", "snapshot", "decode",
                               str(full_run["_snapshot"])], cwd=root, stdout=write_end,
                              stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""
