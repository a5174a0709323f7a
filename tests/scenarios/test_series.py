"""Counters over time: the session's series, its CSV, its snapshots, and the --vmstat lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_snapshot_support import tiny_scenario

from scenarios.cli.main import main
from scenarios.series import TIME_COLUMN, CounterSeries, SeriesError
from scenarios.session import Session
from scenarios.snapshot import (
    SnapshotError,
    load_snapshot,
    load_snapshot_bytes,
    read_snapshot_bytes,
    snapshot_bytes,
)
from tests.scenarios.fixtures.make_fixtures import fixture_path

MS = 1_000_000


def _session(interval_ns: int = 2 * MS) -> Session:
    return Session(tiny_scenario(), series_interval_ns=interval_ns)


def test_csv_reads_back_as_metrics_at_those_times(tmp_path: Path) -> None:
    s = _session(5 * MS)
    s.run(until_ns=400 * MS)
    with open(tmp_path / "c.csv", "w", encoding="utf-8") as f:
        s.series.write_csv(f)
    with open(tmp_path / "c.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert next(iter(rows[0])) == TIME_COLUMN
    assert [int(r[TIME_COLUMN]) for r in rows] == list(range(0, 400 * MS + 1, 5 * MS))
    for i in (0, 17, 41, 80):  # boot, the file writes, the hog swapping, the last sample
        row = rows[i]
        fresh = _session()
        fresh.run(until_ns=int(row[TIME_COLUMN]))
        want = fresh.metrics()
        got = {k: int(v) for k, v in row.items() if k != TIME_COLUMN}
        assert got == {k: want[k] for k in got}, f"sample {i}"
        assert "nr_dirty" in got and "events" in got and "pswpout" in got


def test_sampling_is_observation_only_and_slicing_changes_nothing() -> None:
    a = _session(1 * MS)
    a.run(until_events=120)
    b = _session(1_000 * MS)
    while b.events < 120:
        b.step()
    assert a.state_hash() == b.state_hash()
    c = _session(1 * MS)
    while c.events < 120:
        c.run(until_events=min(c.events + 7, 120))
    assert c.series.times == a.series.times and c.series.columns == a.series.columns


def test_snapshot_keeps_the_series_and_resumes_it() -> None:
    straight = _session()
    straight.run()
    cut = _session()
    cut.run(until_events=90)
    data = snapshot_bytes(cut)
    doc = read_snapshot_bytes(data, "x")
    assert doc["session"]["series"]["names"] == list(cut.series.names)
    resumed = load_snapshot_bytes(data)
    assert resumed.series.times == cut.series.times
    resumed.run()
    assert resumed.series.to_section() == straight.series.to_section()
    assert snapshot_bytes(load_snapshot_bytes(data)) == data


def test_a_run_stopped_at_a_time_saves_and_loads_its_samples_up_to_that_time() -> None:
    s = _session(5 * MS)
    s.run(until_ns=300 * MS)
    assert s.series.times[-1] == 300 * MS >= s.sim_time_ns
    restored = load_snapshot_bytes(snapshot_bytes(s))
    assert restored.series.to_section() == s.series.to_section()


def test_format_4_file_gets_an_empty_series_at_its_clock() -> None:
    s = load_snapshot(fixture_path(4))
    assert len(s.series) == 0 and s.series.next_ns >= s.sim_time_ns
    s.run(until_ns=s.sim_time_ns + 30 * MS)
    assert len(s.series) >= 2


def test_damaged_series_is_refused_in_one_line() -> None:
    s = _session()
    s.run(until_events=40)
    good = s.series.to_section()
    for bad in ({**good, "times": list(reversed(good["times"]))},
                {**good, "columns": good["columns"][1:]},
                {**good, "interval_ns": 0},
                {**good, "next_ns": good["next_ns"] + 1},
                {**good, "next_ns": good["times"][-1]}):
        with pytest.raises(SeriesError):
            CounterSeries.from_section(bad, s.sim_time_ns)
    with pytest.raises(SeriesError):
        CounterSeries.from_section({**good, "names": [1] * len(good["names"])}, s.sim_time_ns)
    assert isinstance(SeriesError("x"), ValueError) and issubclass(SnapshotError, Exception)


def test_a_full_series_doubles_its_interval_and_keeps_its_span() -> None:
    series = CounterSeries(10, max_samples=4)
    for t in range(0, 100, 10):
        series.take({"x": t}, t)
    assert series.interval_ns == 40
    assert list(series.times) == [0, 40, 80]
    assert list(series.column("x")) == [0, 40, 80]
    assert all(t % series.interval_ns == 0 for t in series.times)


def test_run_series_csv_columns_are_the_json_metric_names(tmp_path: Path) -> None:
    out, js = tmp_path / "s.csv", tmp_path / "r.json"
    scenario = tmp_path / "tiny.toml"
    from test_snapshot_support import TINY_TOML

    scenario.write_text(TINY_TOML)
    code = main(["run", str(scenario), "--until", "100ms", "--series", str(out),
                 "--series-interval", "20ms", "--json", str(js), "--quiet"])
    assert code in (0, 1)
    header = out.read_text().splitlines()[0].split(",")
    metrics = json.loads(js.read_text())["metrics"]
    assert header[0] == TIME_COLUMN
    assert set(header[1:]) <= set(metrics) and "nr_writeback" in header
    assert len(out.read_text().splitlines()) == 1 + 6  # 0, 20, ..., 100 ms


def test_vmstat_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "tiny.toml"
    from test_snapshot_support import TINY_TOML

    scenario.write_text(TINY_TOML)
    main(["run", str(scenario), "--until", "300ms", "--vmstat", "100ms", "--quiet"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["r", "b", "swpd", "free", "buff", "cache", "si", "so", "bi",
                                "bo", "dirty", "wb", "time"]
    assert [line.split()[-1] for line in lines[2:]] == ["0s", "100ms", "200ms", "300ms"]
    assert any(int(line.split()[2]) > 0 for line in lines[2:])  # the hog swapped


def test_bad_series_options_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "default", "--series-interval=0ms"]) == 2
    assert main(["run", "default", "--vmstat", "fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("vmlab run: --") for line in err)


def test_vmstat_ends_with_the_end_state(capsys: pytest.CaptureFixture[str]) -> None:
    """fork-cow ends after about 5 ms: at --vmstat 10ms it shows boot and its end."""
    assert main(["run", "fork-cow", "--vmstat", "10ms", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    times = [line.split()[-1] for line in lines[2:]]
    assert times[0] == "0s" and len(times) == 2
    from scenarios.library import load_builtin

    s = Session(load_builtin("fork-cow"))
    s.run()
    assert times[1] != "0s" and int(lines[3].split()[10]) == s.metrics()["nr_dirty"] * 4
