"""The command line's scenario commands, run as a user runs them (a subprocess).

``vmlab scenarios`` lists the built-ins; ``vmlab run`` with bad input exits 2 with one line on
stderr and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.library import builtin_names

ROOT = Path(__file__).resolve().parents[2]


def vmlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "scenarios.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_scenarios_lists_every_builtin() -> None:
    r = vmlab("scenarios")
    assert r.returncode == 0, r.stderr
    for name in builtin_names():
        assert name in r.stdout
    assert "A tour of the page cache" in r.stdout


def test_scenarios_names_only() -> None:
    r = vmlab("scenarios", "--names")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == builtin_names()


BAD_TOML = """
[machine]
memroy = "64MiB"
[[tasks]]
program = ["sync"]
"""

BAD_OP = """
[[tasks]]
name = "w"
program = ["open log create", "fsyn log"]
"""


def _bad_file(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "no-such-scenario"],
         "vmlab run: no-such-scenario: no built-in scenario or file of that name; "
         "'vmlab scenarios' lists them"),
        (["run", "defualt"],
         "vmlab run: defualt: no built-in scenario or file of that name (did you mean "
         "\"default\"?); 'vmlab scenarios' lists them"),
        (["run", "{tmp}/missing.toml"], "vmlab run: missing.toml: cannot read "),
        (["run", "{bad_key}"],
         'vmlab run: bad-key.toml: machine: unknown key "memroy" (did you mean "memory"?)'),
        (["run", "{bad_op}"],
         'vmlab run: bad-op.toml: tasks[0].program[1]: unknown op "fsyn" (did you mean '
         '"fsync"? expected one of: '),
        (["run", "default", "--kernel", "2.6.9"],
         'vmlab run: unknown kernel profile "2.6.9" (expected one of: 2.6.5, 2.6.6, 2.6.7)'),
        (["run", "default", "--until", "sometime"],
         'vmlab run: --until: "sometime" is not a time (2s), an event count (100000), a '
         "check (nr_dirty == 0) or a checkpoint of default; its checkpoints: logged, cold, "
         "warm"),
        (["run", "default", "--until", "wram"],
         'vmlab run: --until: "wram" is not a time (2s), an event count (100000), a check '
         '(nr_dirty == 0) or a checkpoint of default (did you mean "warm"?); its checkpoints: '
         "logged, cold, warm"),
        (["run", "default", "--vmscan", "2.6.8"],
         'vmlab run: --vmscan: unknown page reclaim (mm/vmscan.c) design "2.6.8" (expected '
         "one of: 2.6.6, 2.6.7)"),
        (["run", "default", "--seed", "many"],
         'vmlab run: --seed: expected a seed (an integer such as 16 or 0x1000), got "many"'),
        (["run", "default", "--json", "{tmp}/no/such/dir/out.json"],
         "vmlab run: --json: cannot write "),
        (["run"], "vmlab run: the following arguments are required: SCENARIO"),
        (["run", "default", "--bogus"], "vmlab: unrecognized arguments: --bogus"),
    ],
)
def test_run_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str],
                                             expected: str) -> None:
    subs = {
        "{tmp}": str(tmp_path),
        "{bad_key}": _bad_file(tmp_path, "bad-key.toml", BAD_TOML),
        "{bad_op}": _bad_file(tmp_path, "bad-op.toml", BAD_OP),
    }
    argv = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        argv.append(a)
    r = vmlab(*argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(expected), lines[0]


def test_scenario_naming_a_design_runs_on_it(tmp_path: Path) -> None:
    p = _bad_file(tmp_path, "old.toml", 'kernel = {profile = "2.6.7", rmap = "anonmm"}\n'
                                        '[[tasks]]\nprogram = ["sync"]\n')
    r = vmlab("run", p, "--json", str(tmp_path / "out.json"))
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["switches"]["rmap"] == "anonmm"



def test_run_vmscan_switch_says_where_each_design_comes_from(tmp_path: Path) -> None:
    p = _bad_file(tmp_path, "tiny.toml", '[[tasks]]\nprogram = ["sync"]\n')
    r = vmlab("run", p, "--vmscan", "2.6.6", "--json", str(tmp_path / "out.json"))
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["kernel"] == "2.6.7"
    assert out["switches"] == {"writeback": "tags", "rmap": "anon_vma", "vmscan": "2.6.6",
                               "swapin": "2.6.7"}
    assert out["designs"] == {"writeback": "2.6.6", "rmap": "2.6.7", "vmscan": "2.6.6",
                              "swapin": "2.6.7"}
    assert "2.6.6 (2.6.6; profile 2.6.7 has 2.6.7)" in r.stdout.replace("\n", " ")
    r = vmlab("run", p, "--kernel", "2.6.5", "--swapin", "2.6.7", "--json",
              str(tmp_path / "out.json"))
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["switches"]["vmscan"] == "2.6.6" and out["designs"]["writeback"] == "2.6.5"
    assert out["designs"]["vmscan"] == "2.6.6 with 2.6.5's details"
    assert out["switches"]["swapin"] == "2.6.7"
