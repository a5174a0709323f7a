"""The Python API on the real kernel (scenarios/session.py) and ``vmlab run`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios import profiles
from scenarios.expect import KNOWN_METRICS
from scenarios.library import builtin_names, load_builtin
from scenarios.loader import load_text
from scenarios.session import Session, SessionError

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "small"
description = "a writer and a reader on a small machine"
seed = 3
duration = "10s"

[machine]
memory = "8MiB"
disk = "64MiB"
swap = "8MiB"

[[files]]
path = "f"
size = "256KiB"
content = "random"

[[tasks]]
name = "writer"
program = "writer"

[[tasks]]
name = "reader"
program = ["open f", "read f 0 64KiB x 4", "checkpoint read", "close f"]

[programs]
writer = [
  "open f",
  "write f 0 4KiB x 16 random",
  "checkpoint dirtied",
  "fsync f",
  "checkpoint synced",
  "close f",
]

[[expect]]
at = "dirtied"
check = "nr_dirty > 0"

[[expect]]
at = "synced"
check = "fsync_calls == 1 and data_verified"

[[expect]]
check = "nr_dirty == 0 and nr_writeback == 0 and data_verified and invariants_ok"
"""


def small(seed: int | None = None) -> Session:
    return Session(load_text(SMALL, source="small.toml"), seed=seed)


def test_runs_to_the_end_and_expectations_hold() -> None:
    s = small()
    assert s.run() == "end"
    assert s.end_reason == "exited"
    assert s.kernel.all_user_tasks_exited()
    assert {r.name for r in s.checkpoints} == {"dirtied", "synced", "read"}
    results = s.evaluate_expectations()
    assert [r.ok for r in results] == [True, True, True], results
    m = s.metrics()
    assert m["fsync_calls"] == 1
    assert m["sim_time_ns"] == s.sim_time_ns > 0
    assert m["events"] == s.events > 0


def test_metrics_names_are_the_known_ones() -> None:
    s = small()
    s.step(5)
    assert set(s.metrics()) == set(KNOWN_METRICS)


def test_same_seed_same_hash_other_seed_other_hash() -> None:
    a, b, c = small(), small(), small(seed=4)
    for s in (a, b, c):
        s.run()
    assert a.state_hash() == b.state_hash()
    assert a.state_hash() != c.state_hash()
    assert len(a.state_hash()) == 64


def test_stopping_and_resuming_does_not_change_the_run() -> None:
    straight = small()
    straight.run()
    stepped = small()
    assert stepped.run(until_checkpoint="dirtied") == "checkpoint"
    assert stepped.checkpoints[-1].name == "dirtied"
    assert stepped.step(3) == 3
    t = stepped.sim_time_ns
    assert stepped.run(until_ns=t + 1_000_000) in ("time", "end")
    assert stepped.run(until_events=stepped.events + 2) in ("events", "end")
    assert stepped.run() == "end"
    assert stepped.state_hash() == straight.state_hash()
    assert stepped.events == straight.events


def test_kernel_override(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Session(load_text(SMALL), kernel="2.6.7")
    assert s.kernel_spec.profile == "2.6.7"
    old = Session(load_text(SMALL), kernel="2.6.5")
    assert (old.kernel_spec.writeback, old.kernel_spec.rmap) == ("lists", "pte_chain")
    anonmm = Session(load_text('kernel = {profile = "2.6.7", rmap = "anonmm"}\n' + SMALL))
    assert anonmm.kernel_spec.rmap == "anonmm"
    monkeypatch.setattr(profiles, "AVAILABLE_RMAP", frozenset({"anon_vma", "pte_chain"}))
    with pytest.raises(SessionError, match=r"rmap=anonmm is not available yet"):
        Session(load_text('kernel = {profile = "2.6.7", rmap = "anonmm"}\n' + SMALL))
    with pytest.raises(SessionError, match=r'unknown kernel profile "2\.6\.9"'):
        Session(load_text(SMALL), kernel="2.6.9")


def test_load_by_name() -> None:
    s = Session.load("default", seed=2)
    assert s.scenario.name == "default" and s.seed == 2
    assert s.step() == 1


# --------------------------------------------------------------------------- vmlab run


def vmlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "scenarios.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return p


def test_run_passes_with_json_and_trace(tmp_path: Path, small_file: Path) -> None:
    out, trace = tmp_path / "out.json", tmp_path / "trace.jsonl"
    r = vmlab("run", str(small_file), "--json", str(out), "--trace", str(trace))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    for text in ("small: kernel 2.6.7", "state hash", "pass", "nr_dirty", "wall time"):
        assert text in r.stdout
    data = json.loads(out.read_text())
    assert list(data) == ["scenario", "kernel", "switches", "designs", "seed", "stopped",
                          "sim_time_ns",
                          "events", "state_hash", "metrics", "expectations", "story"]
    assert data["story"] == []  # the file tells no story
    assert data["scenario"] == "small" and data["kernel"] == "2.6.7" and data["seed"] == 3
    assert data["stopped"] == "end (exited)"
    assert data["state_hash"] in r.stdout
    assert all(e["ok"] for e in data["expectations"])
    assert data["metrics"]["data_verified"] == 1
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert lines and all(set(x) == {"seq", "time_ns", "kind", "pid", "a", "b", "s"}
                         for x in lines)
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    assert any(x["kind"] == "checkpoint" and x["s"] == "synced" for x in lines)


def test_run_is_reproducible_and_seed_matters(tmp_path: Path, small_file: Path) -> None:
    hashes = []
    for i, seed in enumerate(("3", "3", "9")):
        out = tmp_path / f"{i}.json"
        r = vmlab("run", str(small_file), "--seed", seed, "--json", str(out), "--quiet")
        assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
        hashes.append(json.loads(out.read_text())["state_hash"])
    assert hashes[0] == hashes[1] != hashes[2]


def test_run_failing_expectation_exits_1(tmp_path: Path) -> None:
    p = tmp_path / "fails.toml"
    p.write_text(SMALL.replace('check = "fsync_calls == 1 and data_verified"',
                               'check = "fsync_calls == 2"'))
    r = vmlab("run", str(p))
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "fsync_calls is 1 (want == 2)" in r.stdout


@pytest.mark.parametrize(("until", "stopped"),
                         [("dirtied", "checkpoint"), ("3", "events"), ("1ns", "time")])
def test_run_until(tmp_path: Path, small_file: Path, until: str, stopped: str) -> None:
    out = tmp_path / "out.json"
    r = vmlab("run", str(small_file), "--until", until, "--json", str(out), "--quiet")
    assert r.returncode in (0, 1)
    data = json.loads(out.read_text())
    assert data["stopped"] == stopped
    if stopped == "events":
        assert data["events"] == 3


# --------------------------------------------------------------------------- built-ins


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names())
def test_builtin_runs_and_its_expectations_hold(name: str) -> None:
    s = Session(load_builtin(name))
    assert s.run() == "end"
    failed = [r for r in s.evaluate_expectations() if not r.ok]
    assert not failed, failed
