"""Print a /proc file of the emulated machine, as Linux 2.6.6 prints it.

TARGET is a built-in scenario, a .toml file or a snapshot file. A scenario runs to its end,
or to --at POINT (a simulated time, an event count or a checkpoint, as --snapshot-at takes);
a snapshot is read at the moment it was saved, or run on from there to --at POINT.

views:
  meminfo          /proc/meminfo: memory totals in kB (Dirty: is nr_dirty x 4 kB)
  vmstat           /proc/vmstat: the counters, with 2.6.6's names
  maps PID         /proc/PID/maps: the task's VMAs, one a line
  status PID       /proc/PID/status: the task's state and memory (VmSize, VmRSS, ...)
  page-types       every struct page counted by its PG_ flags

examples:
  vmlab proc writeback-order --at 1s meminfo
  vmlab proc fork-cow --at 2ms vmstat
  vmlab proc shared-file-mmap --at 100ms maps 4
  vmlab proc fork-cow --at 2ms status 4
  vmlab proc swap-storm --at 500ms page-types
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap --quiet
  vmlab proc storm.vmsnap meminfo          the snapshot's moment

A task that does not exist is refused with the list of the tasks there are; 'vmlab proc
TARGET status 1' on a kernel thread prints no Vm lines, as the kernel does.
"""

from __future__ import annotations

import argparse
import sys

from scenarios.cli.common import CliError
from scenarios.cli.running import Until, parse_until, progress_run
from scenarios.cli.tui_cmd import is_snapshot, load_target
from scenarios.procfs import VIEWS
from scenarios.units import UnitError, parse_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="a built-in scenario, a .toml file or a snapshot file")
    parser.add_argument("view", metavar="VIEW", choices=list(VIEWS),
                        help="meminfo, vmstat, maps, status or page-types")
    parser.add_argument("pid", metavar="PID", nargs="?",
                        help="the task, for maps and status")
    parser.add_argument("--at", metavar="POINT",
                        help="run to this point first: a time (1s), an event count (10000) or "
                             "a checkpoint (synced); a scenario's default is its end, a "
                             "snapshot's its own moment")
    parser.add_argument("--seed", metavar="N", help="override the scenario's seed")
    parser.add_argument("--kernel", metavar="PROFILE",
                        help="run on this kernel profile instead (2.6.5, 2.6.6, 2.6.7)")


def _pid(args: argparse.Namespace) -> int:
    takes_pid = VIEWS[args.view][0]
    if not takes_pid:
        if args.pid is not None:
            raise CliError(f"{args.view} takes no PID")
        return -1
    if args.pid is None:
        raise CliError(f"{args.view} needs a PID: vmlab proc TARGET {args.view} PID")
    try:
        return parse_int(args.pid, "PID")
    except UnitError as exc:
        raise CliError(str(exc)) from None


def render(view: str, k: object, pid: int) -> str:
    """The text of ``view`` for kernel ``k`` (``pid`` for the per-task views).

    Raises:
        NoSuchTask: the pid names no task.
    """
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.procfs import maps, meminfo, page_types, status, vmstat

    assert isinstance(k, Kernel)
    if view == "meminfo":
        return meminfo.meminfo(k)
    if view == "vmstat":
        return vmstat.vmstat(k)
    if view == "maps":
        return maps.maps(k, pid)
    if view == "status":
        return status.status(k, pid)
    return page_types.page_types(k)


def execute(args: argparse.Namespace) -> int:
    from kernelmodel.include.bug import KernelBug
    from scenarios.procfs.tasks import NoSuchTask

    pid = _pid(args)
    session = load_target(args.target, args.seed, args.kernel)
    if args.at is not None:
        until = parse_until(args.at, session.scenario, "--at")
    elif is_snapshot(args.target):
        until = None
    else:
        until = Until()
    if until is not None:
        try:
            progress_run(session, until, sys.stderr.isatty())
        except KernelBug as exc:
            raise CliError(f"kernel BUG at event {session.events}: {exc}") from None
    try:
        sys.stdout.write(render(args.view, session.kernel, pid))
    except NoSuchTask as exc:
        raise CliError(str(exc)) from None
    return 0
