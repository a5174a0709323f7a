"""``vmlab run --until CHECK``: the run stops after the first event at whose end the check
holds, says where, and prints the state hash of exactly that moment; a bad check is one line
and exit status 2. The example of ``vmlab run --help`` runs as written."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from scenarios.cli.main import main
from scenarios.expect import evaluate, parse_check
from scenarios.session import Session
from scenarios.snapshot import load_snapshot
from tests.scenarios.test_help_examples import examples, help_texts


def _check_examples() -> list[str]:
    return [c for c in examples(help_texts()["run"]) if "--until '" in c]


def test_the_help_example_runs_and_stops_where_the_check_first_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = _check_examples()
    assert commands
    for command in commands:
        argv = shlex.split(command)[1:]
        out_json = tmp_path / "r.json"
        assert main([*argv, "--json", str(out_json)]) in (0, 1)
        out = capsys.readouterr()
        assert "holds after event" in out.out and not out.err.startswith("vmlab")
        result = json.loads(out_json.read_text())
        assert result["stopped"] == "check" and result["state_hash"] in out.out
        text = argv[argv.index("--until") + 1]
        events = result["events"]
        assert evaluate(parse_check(text), result["metrics"])[0]
        # the same moment by a plain run to that event: same hash; one event earlier the
        # check did not hold yet
        s = Session.load(argv[1])
        s.run(until_events=events - 1)
        assert not evaluate(parse_check(text), s.metrics())[0]
        s.step()
        assert s.state_hash() == result["state_hash"]


@pytest.mark.parametrize(("until", "says"), [
    ("nr_dirtty > 0", 'unknown metric "nr_dirtty" (did you mean "nr_dirty"?)'),
    ("nr_dirty >", 'nothing to compare with after "nr_dirty >"'),
    ("nr_dirty@synced > 0", "METRIC@CHECKPOINT is not available"),
    ("no-such-thing", "a check (nr_dirty == 0)"),
])
def test_a_bad_check_is_one_line_and_exit_2(until: str, says: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "fsync-race-a", "--until", until]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and "Traceback" not in err


def test_a_check_as_the_snapshot_point(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "w.vmsnap"
    assert main(["run", "fsync-race-a", "--quiet", "--until", "1ms",
                 "--snapshot-at", "nr_dirty > 0", "--snapshot-out", str(snap)]) in (0, 1)
    assert snap.exists() and not capsys.readouterr().err.startswith("vmlab")
    s = load_snapshot(str(snap))
    assert s.metrics()["nr_dirty"] > 0
