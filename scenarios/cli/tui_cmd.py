"""Open the dashboard on a scenario or a snapshot.

SCENARIO is a built-in name (see 'vmlab scenarios') or a .toml file; a file that is not a
.toml is read as a snapshot (see 'S', 'R' and 'L' in the dashboard). With no argument the
built-in "default" scenario opens. Press ? in the dashboard for every key, ctrl+p for every
action.

A scenario opens running (--paused: paused at boot). A snapshot opens paused at exactly the
event it was saved at, with a dialog that says where it stands: its event and simulated time
and each expectation as it stood (passed or failed at a checkpoint already hit, or still
open); --run starts it running.

examples:
  vmlab                                 the default scenario, running
  vmlab tui writeback-order --paused    start paused: space runs, . steps one event
  vmlab tui fork-cow --seed 7
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap --quiet
  vmlab tui storm.vmsnap                the snapshot, paused where it was saved
  vmlab tui storm.vmsnap --run          ... and running on from there
  vmlab tui --no-files                  no snapshots or scenario files: what 'vmlab serve' runs
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

from scenarios.cli.common import CliError, parse_seed
from scenarios.input_file import is_regular_file
from scenarios.loader import ScenarioError

if TYPE_CHECKING:
    from scenarios.session import Session

#: What ``vmlab`` with no arguments opens.
DEFAULT_SCENARIO = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--no-files", action="store_true",
                        help="the dashboard's keys neither read nor write files: no "
                             "snapshot save or load, and o opens built-in scenarios only "
                             "(each 'vmlab serve' session runs so)")


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """What to open and how: shared with 'vmlab serve'."""
    parser.add_argument("target", metavar="SCENARIO|SNAPSHOT", nargs="?",
                        default=DEFAULT_SCENARIO,
                        help="a built-in scenario name, a .toml file, or a snapshot file "
                             f"(default: {DEFAULT_SCENARIO})")
    parser.add_argument("--seed", metavar="N", help="override the scenario's seed")
    parser.add_argument("--kernel", metavar="PROFILE",
                        help="run on this kernel profile instead (2.6.5, 2.6.6, 2.6.7)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--paused", action="store_true",
                       help="open paused (space runs, . steps one event); a snapshot always "
                            "opens paused unless --run")
    start.add_argument("--run", action="store_true",
                       help="open running; a scenario opens running anyway, a snapshot "
                            "only with --run")


def is_snapshot(target: str) -> bool:
    """A regular file that is not a .toml is taken for a snapshot (anything else that is not
    a built-in name goes to the scenario loader, which refuses devices, pipes and sockets)."""
    return is_regular_file(target) and not target.endswith(".toml")


def _load_snapshot(target: str) -> Session:
    try:
        mod = importlib.import_module("scenarios.snapshot")
    except ModuleNotFoundError:
        raise CliError(f"{target}: snapshots are not available in this build") from None
    errors: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError, TypeError)
    own = getattr(mod, "SnapshotError", None)
    if isinstance(own, type) and issubclass(own, BaseException):
        errors += (own,)
    try:
        session: Session = mod.load_snapshot(target)
    except errors as exc:
        raise CliError(f"{target}: {exc}") from None
    return session


def load_target(target: str, seed: str | None, kernel: str | None) -> Session:
    """Boot a scenario, or restore a snapshot.

    Raises:
        CliError: the scenario or snapshot cannot be loaded (one line).
    """
    from scenarios.series import DASHBOARD_INTERVAL_NS
    from scenarios.session import Session, SessionError

    if is_snapshot(target):
        if seed is not None or kernel is not None:
            raise CliError("--seed and --kernel apply to scenarios, not to snapshots")
        return _load_snapshot(target)
    seed_value = parse_seed(seed)
    try:
        return Session.load(target, seed=seed_value, kernel=kernel,
                            series_interval_ns=DASHBOARD_INTERVAL_NS)
    except (ScenarioError, SessionError) as exc:
        raise CliError(str(exc)) from None


def execute(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits; 0 on a normal exit.

    ``vmlab`` with no arguments calls this with a namespace that has none of this command's
    options, so each is read with a default.
    """
    target = getattr(args, "target", None) or DEFAULT_SCENARIO
    try:
        session = load_target(target, getattr(args, "seed", None), getattr(args, "kernel", None))
    except CliError as exc:
        if getattr(args, "command", None) is not None:
            raise
        print(f"vmlab: {exc}", file=sys.stderr)  # bare 'vmlab' has no CliError handler
        return 2
    snapshot = is_snapshot(target)
    if snapshot:
        running = bool(getattr(args, "run", False))
    else:
        running = not getattr(args, "paused", False)
    app_module = importlib.import_module("tui.app")
    app = app_module.VmlabApp(session, running=running,
                              opened_from=target if snapshot else None,
                              files=not getattr(args, "no_files", False))
    app.run()
    return 0
