"""Look inside snapshot files: what one holds, its state as JSON, what differs between two.

  info FILE               scenario, kernel profile, simulated time, events, tasks,
                          checkpoints, counters, state hash, vmlab version
  decode FILE             the snapshot as JSON for reading and grepping; --section narrows it
                          (dotted keys: state.kernel.tasks, state.machine.disk, session, ...)
  diff A B                what differs, in kernel terms: counters with deltas; pages whose
                          list, flags or mapping changed (grouped); tasks; files and their
                          tags; the disk queue. Exit status 0 when equal, 1 when different.

Nothing is restored or run. A damaged or foreign file is refused with one line (exit status 2).

examples:
  vmlab snapshot info storm.vmsnap
  vmlab snapshot decode storm.vmsnap --section state.kernel.tasks
  vmlab snapshot diff before.vmsnap after.vmsnap
"""

from __future__ import annotations

import argparse
import json

from scenarios.cli.common import CliError
from scenarios.units import format_duration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="what a snapshot holds")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    dec = sub.add_parser("decode", help="the snapshot as JSON")
    dec.add_argument("file", metavar="FILE")
    dec.add_argument("--section", metavar="PATH",
                     help="only this part, by dotted keys (state.kernel.tasks)")
    dec.add_argument("--full-bytes", action="store_true",
                     help="every byte string in base64 (by default long ones show a sha256)")
    dif = sub.add_parser("diff", help="what differs between two snapshots")
    dif.add_argument("a", metavar="A")
    dif.add_argument("b", metavar="B")


def _size(value: object) -> str:
    if not isinstance(value, int):
        return str(value)
    if value < 1 << 20:
        return f"{value / 1024:.1f} KiB"
    return f"{value / (1 << 20):.1f} MiB"


def _names(value: object) -> str:
    if isinstance(value, list) and value:
        return ", ".join(str(v) for v in value)
    return "none"


def _info(args: argparse.Namespace) -> int:
    from scenarios.snapshot import snapshot_info

    info = snapshot_info(args.file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    kernel = info["kernel"]
    kernel_text = str(kernel)
    if isinstance(kernel, dict):
        kernel_text = (f"{kernel.get('profile')} (writeback={kernel.get('writeback')}, "
                       f"rmap={kernel.get('rmap')}, vmscan={kernel.get('vmscan')}, "
                       f"swapin={kernel.get('swapin')})")
    sim = info["sim_time_ns"]
    size = info["bytes"]
    rows = [
        ("file", f"{info['file']} ({_size(size)})"),
        ("scenario", f"{info['scenario']} ({info['source']})"),
        ("kernel", kernel_text),
        ("seed", str(info["seed"])),
        ("simulated time", format_duration(sim) if isinstance(sim, int) else str(sim)),
        ("events", f"{info['events']:,}"),
        ("checkpoints hit", _names(info["checkpoints"])),
        ("state hash", str(info["state_hash"])),
        ("vmlab version", f"{info['vmlab_version']} (snapshot format {info['format_version']})"),
    ]
    for label, value in rows:
        print(f"{label + ':':<18}{value}")
    tasks = info["tasks"]
    if isinstance(tasks, list) and tasks:
        print("tasks:")
        for t in tasks:
            doing = f", {t['doing']}" if t["doing"] else ""
            print(f"  {t['pid']:>5} {t['name']:<16} {t['state']}{doing}")
    counters = info["counters"]
    if isinstance(counters, dict):
        print("counters:")
        for name, value in counters.items():
            print(f"  {name:<24}{value:>16,}")
    return 0


def execute(args: argparse.Namespace) -> int:
    from scenarios.snapshot import SnapshotError, decode, diff

    try:
        if args.action == "info":
            return _info(args)
        if args.action == "decode":
            print(decode(args.file, args.section, args.full_bytes), end="")
            return 0
        result = diff(args.a, args.b)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    for line in result.lines:
        print(line)
    return 0 if result.equal else 1
