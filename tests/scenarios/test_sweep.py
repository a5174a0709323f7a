"""``vmlab sweep`` and ``vmlab plot`` (scenarios/sweep/, scenarios/cli/sweep.py, cli/plot.py).

Bad input: one line on stderr, exit 2, nothing run and no file written. Running: a small
sweep (16 pages written and synced per run, well under a second each) on the local process
pool and on Ray (one local Ray instance for the whole module) gives the same file byte for
byte, and its rows hold what a direct ``Session`` run of the same configuration gives.
Resuming runs only the missing rows; a run past --timeout is a row marked "error" and the
sweep completes; Parquet holds the same rows as CSV.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenarios.cli.main import main
from scenarios.library import ScenarioText, scenario_text
from scenarios.profiles import DESIGNS
from scenarios.session import Session
from scenarios.sweep.params import (
    SweepError,
    load_variant,
    parse_seeds,
    parse_set,
    parse_value,
    set_value,
)
from scenarios.sweep.plan import plan_sweep
from scenarios.sweep.rows import METRICS
from scenarios.sweep.store import read_results

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "small-writes"
seed = 1
duration = "1000s"

[machine]
memory = "16MiB"
disk = "64MiB"
swap = "8MiB"

[tunables]
dirty_background_ratio = 50
dirty_writeback_centisecs = 0

[[files]]
path = "data"
size = "2MiB"

[[tasks]]
name = "writer"
program = ["open data", "loop 1", "write data 0 4KiB x 16 random", "end", "sync", "close data"]

[[expect]]
check = "data_verified and nr_dirty == 0"
"""

#: 2 kernels x 2 memory sizes x 2 seeds = 8 runs
SWEEP = ["--kernels", "2.6.5,2.6.6", "--set", "machine.memory=8MiB,16MiB", "--seeds", "1..2"]


@pytest.fixture
def small(tmp_path: Path) -> str:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return str(path)


def _sweep(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["sweep", *argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---- the parameters ----------------------------------------------------------------------------


def test_parse_set_and_values() -> None:
    axis = parse_set("machine.memory=16MiB, 32MiB")
    assert (axis.key, axis.values) == ("machine.memory", ("16MiB", "32MiB"))
    assert parse_value("10") == 10
    assert parse_value("true") is True
    assert parse_value('"a b"') == "a b"
    assert parse_value("16MiB") == "16MiB"
    assert parse_value("write data 0 4KiB x 16 random") == "write data 0 4KiB x 16 random"
    for bad in ("machine.memory", "=1,2", "machine.memory=1,,2", "machine.memory=1,1"):
        with pytest.raises(SweepError):
            parse_set(bad)


def test_parse_seeds() -> None:
    assert parse_seeds("1..4") == (1, 2, 3, 4)
    assert parse_seeds("3,7,9") == (3, 7, 9)
    assert parse_seeds("1..2,10") == (1, 2, 10)
    for bad in ("4..1", "x", "1,1", "0..100000000", "-1"):
        with pytest.raises(SweepError):
            parse_seeds(bad)


def test_set_value_creates_tables_and_addresses_ops() -> None:
    doc: dict[str, object] = {"tasks": [{"name": "w", "program": ["open f", "sync"]}],
                              "programs": {"my.prog": ["sync"]}}
    set_value(doc, "tunables.dirty_ratio", 10)
    set_value(doc, "tasks.0.program.1", "fsync f")
    set_value(doc, "programs.my.prog.0", "sync")
    assert doc["tunables"] == {"dirty_ratio": 10}
    assert doc["tasks"] == [{"name": "w", "program": ["open f", "fsync f"]}]


def test_variant_is_validated_like_a_file(small: str) -> None:
    text = scenario_text(small)
    s = load_variant(text, [("machine.memory", "8MiB"), ("tunables.dirty_ratio", "20")])
    assert s.machine.memory == 8 << 20 and s.tunables.dirty_ratio == 20


def test_plan_is_the_cross_product(small: str) -> None:
    text = scenario_text(small)
    plan = plan_sweep(text, ["2.6.5", "2.6.6"], {"rmap": ["pte_chain", "anon_vma"]},
                      [parse_set("machine.memory=8MiB,16MiB")], (1, 2, 3))
    assert len(plan.runs) == 2 * 2 * 2 * 3
    first = plan.runs[0]
    assert first.overrides == (("machine.memory", "8MiB"),)
    assert dict(first.kernel) == {"kernel": "2.6.5", "writeback": "lists", "rmap": "pte_chain",
                                  "vmscan": "2.6.6", "swapin": "2.6.6"}
    assert [r.seed for r in plan.runs[:3]] == [1, 2, 3]
    # without --kernels: the scenario's own kernel section, one configuration
    own = plan_sweep(ScenarioText(SMALL, "s.toml", "s"), None, {}, [], None)
    assert [dict(r.kernel) for r in own.runs] == [
        {"kernel": "2.6.7", "writeback": "tags", "rmap": "anon_vma", "vmscan": "2.6.7",
         "swapin": "2.6.7"}]
    assert own.runs[0].seed == 1


def test_every_design_switch_is_a_sweep_axis(small: str) -> None:
    """The sweep's options and row columns come from the one table of design switches."""
    text = scenario_text(small)
    plan = plan_sweep(text, ["2.6.7"], {"vmscan": ["2.6.6", "2.6.7"], "swapin": ["2.6.6"]},
                      [], (1,))
    assert [dict(r.kernel) for r in plan.runs] == [
        {"kernel": "2.6.7", "writeback": "tags", "rmap": "anon_vma", "vmscan": v,
         "swapin": "2.6.6"} for v in ("2.6.6", "2.6.7")]
    env = dict(os.environ, COLUMNS="100")
    r = subprocess.run([sys.executable, "-m", "scenarios.cli.main", "sweep", "--help"],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    assert r.returncode == 0
    for d in DESIGNS:
        assert d.option in r.stdout


# ---- bad input: one line, exit 2, nothing run ---------------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["--set", "machine.memroy=16MiB"],
     'vmlab sweep: --set machine.memroy: machine has no key "memroy" (did you mean "memory"?)'),
    (["--set", "machine.memory=16MiB,3MiB"],
     "vmlab sweep: --set machine.memory=3MiB: small.toml: machine.memory: 3145728 bytes is "
     "not a multiple of 4KiB between 4MiB and 4GiB"),
    (["--set", "tunables.dirty_ratio=10,abc"],
     "vmlab sweep: --set tunables.dirty_ratio=abc: small.toml: tunables.dirty_ratio: expected "
     'an integer, not a string ("abc")'),
    (["--set", "tasks.3.name=a"],
     'vmlab sweep: --set tasks.3.name: "3" is not an index of tasks, which has 1 item '
     "(tasks.0 .. tasks.0)"),
    (["--set", "tasks.0.program.2=write data 0 4KiB x 16 randmo"],
     "vmlab sweep: --set tasks.0.program.2=write data 0 4KiB x 16 randmo: small.toml: "
     'tasks[0].program[2]: write: expected "random" or "seq" after the count, got "randmo" '
     "(usage: write PATH OFF|pos LEN [x COUNT [random|seq]])"),
    (["--set", "machine=1"],
     "vmlab sweep: --set machine: this is a table; set one of its fields (machine.KEY or "
     "machine.INDEX)"),
    (["--set", "seed=1,2"], "vmlab sweep: --set seed: seed cannot be set; sweep it with --seeds"),
    (["--seeds", "5..1"], 'vmlab sweep: --seeds: "5..1" runs backwards (write 1..5)'),
    (["--kernels", "2.6.5,2.6.9"],
     'vmlab sweep: --kernels: unknown kernel profile "2.6.9" (did you mean "2.6.7"?) '
     "(expected one of: 2.6.5, 2.6.6, 2.6.7)"),
    (["--rmap", "anon"],
     'vmlab sweep: --rmap: unknown reverse-mapping design "anon" (did you mean "anonmm"?) '
     "(expected one of: anon_vma, pte_chain, anonmm)"),
    (["--seeds", "1,2", "--plot", "head_travel"],
     'vmlab sweep: --plot/--show: no metric "head_travel" (did you mean '
     '"head_travel_sectors"?)'),
    (["--jobs", "0"], "vmlab sweep: --jobs: 0 is not a number of processes (1 or more)"),
])
def test_bad_input_is_one_line(small: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               argv: list[str], expected: str) -> None:
    out = tmp_path / "rows.csv"
    code = main(["sweep", small, *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [expected]
    assert not out.exists(), "nothing may be written for bad input"


def test_bad_results_file_is_one_line(small: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert main(["sweep", small, "--out", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not the results of a vmlab sweep" in err[0]
    assert other.read_text() == "a,b\n1,2\n", "a foreign file is left as it was"


def test_ray_missing_is_one_line(small: str, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    code = ("import sys; sys.modules['ray'] = None\n"
            "from scenarios.cli.main import main\n"
            f"sys.exit(main(['sweep', {small!r}, '--ray', '--out', {str(out)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "vmlab sweep: --ray needs Ray, which is not installed: pip install 'vmlab[ray]' "
        "(or pip install ray)"]
    assert not out.exists()


# ---- running -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sweep run once on two local processes."""
    root = tmp_path_factory.mktemp("local")
    (root / "small.toml").write_text(SMALL)
    out = root / "rows.csv"
    code = main(["sweep", str(root / "small.toml"), *SWEEP, "--jobs", "2", "--out", str(out),
                 "--quiet"])
    assert code == 0
    return out


def test_rows_hold_what_a_session_gives(local_csv: Path) -> None:
    rows = _rows(local_csv)
    assert len(rows) == 8
    assert [(r["machine.memory"], r["kernel"], r["seed"]) for r in rows[:4]] == [
        ("8MiB", "2.6.5", "1"), ("8MiB", "2.6.5", "2"), ("8MiB", "2.6.6", "1"),
        ("8MiB", "2.6.6", "2")]
    assert all(r["outcome"] == "pass" and r["error"] == "" for r in rows)
    assert set(METRICS) <= set(rows[0])
    # the last row, run directly
    last = rows[-1]
    assert (last["machine.memory"], last["kernel"], last["seed"]) == ("16MiB", "2.6.6", "2")
    direct = Session(load_variant(ScenarioText(SMALL, "small.toml", "small"),
                                  [("machine.memory", "16MiB")]), seed=2, kernel="2.6.6")
    direct.run()
    metrics = direct.metrics()
    assert last["state_hash"] == direct.state_hash()
    assert int(last["head_travel_sectors"]) == metrics["head_travel_sectors"]
    assert int(last["total_pages"]) == 4096
    assert (last["writeback"], last["rmap"]) == ("tags", "pte_chain")


def test_resume_runs_only_missing_rows(local_csv: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    scenario = local_csv.parent / "small.toml"
    full = local_csv.read_text()
    lines = full.splitlines(keepends=True)
    out = tmp_path / "rows.csv"
    out.write_text("".join(lines[:3]) + lines[3][:40])  # two rows, a third cut short by a kill
    code, text = _sweep(capsys, str(scenario), *SWEEP, "--jobs", "2", "--out", str(out))
    assert code == 0
    assert f"8 runs (2 already in {out}): 6 ran" in text
    assert out.read_text() == full
    code, text = _sweep(capsys, str(scenario), *SWEEP, "--out", str(out))
    assert code == 0
    assert f"8 runs (8 already in {out}): 0 ran" in text
    assert out.read_text() == full


def test_failing_run_is_a_marked_row(small: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rows.csv"
    # 5 s: the short run needs well under a second of CPU, even on a busy machine
    code, text = _sweep(capsys, small, "--set", "tasks.0.program.1=loop 1,loop 1000000",
                        "--timeout", "5", "--jobs", "2", "--out", str(out))
    assert code == 1
    rows = _rows(out)
    assert [r["outcome"] for r in rows] == ["pass", "error"]
    assert rows[1]["error"].startswith("timeout: stopped after 5s of wall time (simulated ")
    assert rows[1]["state_hash"] == "" and rows[1]["head_travel_sectors"] == ""
    assert rows[0]["state_hash"] != ""
    assert "2 runs: 2 ran" in text and "1 failed" in text
    assert "failed: tasks.0.program.1=loop 1000000 seed 1 on 2.6.7: timeout" in text
    # resuming keeps the failed row; --retry-failed runs it again (and it fails again)
    code, text = _sweep(capsys, small, "--set", "tasks.0.program.1=loop 1,loop 1000000",
                        "--timeout", "1", "--jobs", "1", "--out", str(out), "--retry-failed")
    assert code == 1
    assert f"2 runs (1 already in {out}): 1 ran" in text
    again = _rows(out)
    assert again[0] == rows[0]
    assert again[1]["error"].startswith("timeout: stopped after 1s of wall time")


def test_summary_and_plot(local_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = local_csv.parent / "small.toml"
    code, text = _sweep(capsys, str(scenario), *SWEEP, "--out", str(local_csv),
                        "--plot", "head_travel_sectors")
    assert code == 0
    assert "small-writes: mean over 2 seeds" in text
    assert "head_travel_sectors (mean of 2 seeds)" in text
    for label in ("2.6.5", "2.6.6", "8MiB", "16MiB", "machine.memory"):
        assert label in text
    assert main(["plot", str(local_csv), "--x", "machine.memory", "--y", "struct_page_bytes",
                 "--width", "60"]) == 0
    plot = capsys.readouterr().out
    assert "** 2.6.5" in plot and "oo 2.6.6" in plot and "\x1b[" not in plot
    assert main(["plot", str(local_csv), "--x", "memory", "--y", "struct_page_bytes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['vmlab plot: --x: no column "memory" in these results (did you mean '
                   '"machine.memory"?)']


# ---- Ray ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """One local Ray instance for every Ray test of this module (it takes seconds to start)."""
    import ray

    from scenarios.sweep.backends import init_ray

    started = init_ray(None, 2)
    yield
    if started:
        ray.shutdown()


@pytest.mark.usefixtures("ray_instance")
def test_ray_gives_the_same_rows(local_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    code = main(["sweep", str(local_csv.parent / "small.toml"), *SWEEP, "--ray", "--out",
                 str(out), "--quiet"])
    assert code == 0
    assert out.read_text() == local_csv.read_text()


@pytest.mark.usefixtures("ray_instance")
def test_ray_parquet_holds_the_csv_rows(local_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    code = main(["sweep", str(local_csv.parent / "small.toml"), *SWEEP, "--ray", "--out",
                 str(out), "--quiet"])
    assert code == 0
    assert not os.path.exists(f"{out}.partial.csv")
    cols, rows = read_results(out)
    csv_cols, csv_rows = read_results(local_csv)
    assert cols == csv_cols
    assert rows == csv_rows
