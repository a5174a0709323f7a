"""The ``vmlab tui`` subcommand: argument parsing and what it opens."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from scenarios.cli.common import CliError
from scenarios.cli.main import SUBCOMMANDS, build_parser
from scenarios.cli.tui_cmd import DEFAULT_SCENARIO, add_arguments, execute, load_target
from scenarios.series import DASHBOARD_INTERVAL_NS, DEFAULT_INTERVAL_NS
from tests.tui.snapshot_app import TINY, make_session

HAVE_SNAPSHOTS = importlib.util.find_spec("scenarios.snapshot") is not None


def test_tui_is_a_subcommand_with_its_options() -> None:
    assert SUBCOMMANDS["tui"][0] == "tui_cmd"
    args = build_parser().parse_args(["tui", "default", "--paused", "--seed", "7"])
    assert (args.target, args.paused, args.seed) == ("default", True, "7")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).target == DEFAULT_SCENARIO == "default"


def test_load_target_boots_scenarios_and_refuses_bad_input() -> None:
    s = load_target(str(TINY), "5", None)
    # the dashboard samples finer than 'vmlab run' so that a run of a few ms still plots
    assert s.series.interval_ns == DASHBOARD_INTERVAL_NS < DEFAULT_INTERVAL_NS
    assert s.seed == 5 and s.scenario.name == "tui-tiny" and s.events == 0
    with pytest.raises(CliError, match="no built-in scenario"):
        load_target("no-such-scenario", None, None)
    with pytest.raises(CliError, match="--seed"):
        load_target(str(TINY), "many", None)


def test_bare_vmlab_reports_a_bad_default_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(command=None, target="no-such-scenario")
    assert execute(args) == 2
    assert capsys.readouterr().err.startswith("vmlab: no-such-scenario:")


@pytest.mark.skipif(not HAVE_SNAPSHOTS, reason="scenarios.snapshot is not in this build")
def test_load_target_restores_a_snapshot(tmp_path: Path) -> None:
    from scenarios.snapshot import save_snapshot

    s = make_session()
    s.step(12)
    path = tmp_path / "tiny.vmsnap"
    save_snapshot(s, path)
    restored = load_target(str(path), None, None)
    assert restored.state_hash() == s.state_hash() and restored.events == 12
    with pytest.raises(CliError, match="scenarios, not to snapshots"):
        load_target(str(path), "3", None)
    bad = tmp_path / "bad.vmsnap"
    bad.write_bytes(b"garbage")
    with pytest.raises(CliError):
        load_target(str(bad), None, None)
