"""Serve the dashboard to web browsers: every tab gets its own session.

Each browser tab that opens the address runs its own dashboard on the scenario (or snapshot),
from the start, with its own state: what one student pauses or steps, no one else sees. The
dashboards run on this machine, one process each; they cannot read or write files here (no
snapshots, built-in scenarios only). Sessions beyond --max-sessions are turned away with a
short page; a tab closed, or left with no key, mouse or resize for --idle-timeout, ends its
session. Ctrl-C ends every session and stops the server.

It listens on 127.0.0.1 (this machine only) unless told otherwise: for a class on the same
network use --host 0.0.0.0 and give out the address it prints.

examples:
  vmlab serve                                  the default scenario on http://127.0.0.1:8000/
  vmlab serve writeback-order --paused         every tab starts paused
  vmlab serve fork-cow --host 0.0.0.0 --port 8080 --max-sessions 30
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap --quiet
  vmlab serve storm.vmsnap --idle-timeout 10min   every tab starts where the snapshot stopped
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from scenarios.cli.common import CliError
from scenarios.cli.tui_cmd import add_target_arguments, is_snapshot, load_target
from scenarios.units import UnitError, parse_duration

#: Sessions allowed at once unless told otherwise: each is a process running the model.
DEFAULT_MAX_SESSIONS = 16
#: A session with no input for this long ends (a tab forgotten in a lab room).
DEFAULT_IDLE = "30min"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; "
                             "0.0.0.0: every address, for other machines)")
    parser.add_argument("--port", default="8000", metavar="N",
                        help="TCP port (default 8000; 0 picks a free one)")
    parser.add_argument("--max-sessions", default=str(DEFAULT_MAX_SESSIONS), metavar="N",
                        help="sessions (tabs) at once (default "
                             f"{DEFAULT_MAX_SESSIONS}); each is a process holding a whole "
                             "emulated machine (about 95 MB for the default scenario's 32 MiB "
                             "of RAM) and, while it runs, part of a CPU core")
    parser.add_argument("--idle-timeout", default=DEFAULT_IDLE, metavar="DURATION",
                        help="end a session after this long with no key, mouse or resize "
                             f"(e.g. 10min, 90s; 0 never; default {DEFAULT_IDLE})")


def _count(text: str, option: str, low: int, high: int) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise CliError(f"{option}: {value} is out of range ({low} to {high})")
    return value


def session_argv(args: argparse.Namespace) -> list[str]:
    """The command each browser tab runs: a dashboard that touches no files."""
    target = args.target
    if os.path.exists(target):
        target = os.path.abspath(target)  # sessions may start after the server's cwd is gone
    argv = [sys.executable, "-m", "scenarios.cli.main", "tui", target, "--no-files"]
    if args.seed is not None:
        argv += ["--seed", args.seed]
    if args.kernel is not None:
        argv += ["--kernel", args.kernel]
    if args.paused:
        argv.append("--paused")
    return argv


def execute(args: argparse.Namespace) -> int:
    """Check everything, then serve until Ctrl-C; 0 on a clean stop."""
    port = _count(args.port, "--port", 0, 65535)
    max_sessions = _count(args.max_sessions, "--max-sessions", 1, 10_000)
    try:
        idle_s = 0.0 if args.idle_timeout.strip() == "0" else (
            parse_duration(args.idle_timeout) / 1e9)
    except UnitError as exc:
        raise CliError(f"--idle-timeout: {exc}") from None
    if importlib.util.find_spec("textual_serve") is None:
        raise CliError("serving needs the textual-serve package (pip install textual-serve)")
    # Boot it once here, so a bad scenario is reported now rather than in every tab.
    session = load_target(args.target, args.seed, args.kernel)
    kind = "snapshot" if is_snapshot(args.target) else "scenario"
    what = f"{kind} {session.scenario.name}"
    del session
    serve_mod = importlib.import_module("tui.serve")
    options = serve_mod.ServeOptions(
        argv=tuple(session_argv(args)), title=f"vmlab: {what}", host=args.host, port=port,
        max_sessions=max_sessions, idle_timeout_s=idle_s, what=what)
    try:
        serve_mod.serve(options)
    except serve_mod.ServeError as exc:
        raise CliError(str(exc)) from None
    return 0
