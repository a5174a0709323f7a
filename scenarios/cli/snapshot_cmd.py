"""Look inside snapshot files: what one holds, its state as JSON, what differs between two,
and a bug report to paste beside it.

  info FILE               scenario, kernel profile, simulated time, events, tasks,
                          checkpoints, counters, state hash, vmlab and behaviour versions,
                          and what takes the space (each section compressed on its own)
  report FILE             a Markdown bug report: versions and build, scenario and source,
                          kernel profile and switches, seed, event and time, expectations so
                          far, what the invariant checker and the data oracle say there, the
                          last trace records (--last N), the state hash, and the commands that
                          reproduce it; -o writes it to a file
  decode FILE             the snapshot as JSON for reading and grepping; --section narrows it
                          (dotted keys: state.kernel.tasks, state.machine.disk, session, ...)
  diff A B                what differs, in kernel terms, both sides named (file, scenario,
                          kernel profile and switches, seed, event, time): counters side by
                          side; pages grouped by how their list, flags or mapping changed,
                          then each differing page by pfn, as its file and index or its
                          owners (pid and address) on each side (--pages N of them; --json
                          every one); tasks; files and their tags; the disk queue.
                          Exit status 0 when equal, 1 when different.

Nothing is run (only report restores the kernel, to run the checks on it). A damaged or
foreign file is refused with one line (exit status 2).

examples:
  vmlab run swap-storm --snapshot-at 1s --snapshot-out storm.vmsnap --quiet
  vmlab snapshot info storm.vmsnap
  vmlab snapshot report storm.vmsnap -o storm.md --last 40
  vmlab snapshot decode storm.vmsnap --section state.kernel.tasks
  vmlab run swap-storm --kernel 2.6.5 --snapshot-at 1s --snapshot-out old.vmsnap --quiet
  vmlab snapshot diff old.vmsnap storm.vmsnap      2.6.5 against 2.6.7 at 1 s (exit 1: they differ)
"""

from __future__ import annotations

import argparse
import json

from scenarios.cli.common import CliError
from scenarios.snapshot.differ import DEFAULT_PAGES
from scenarios.snapshot.report import DEFAULT_LAST
from scenarios.units import UnitError, format_duration, parse_int


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
    rep = sub.add_parser("report", help="a Markdown bug report of a snapshot")
    rep.add_argument("file", metavar="FILE")
    rep.add_argument("-o", "--output", metavar="OUT.md",
                     help="write the report to this file (default: print it)")
    rep.add_argument("--last", metavar="N", default=str(DEFAULT_LAST),
                     help=f"how many of the last trace records to show (default "
                          f"{DEFAULT_LAST}; a snapshot keeps up to 1024)")
    dif = sub.add_parser("diff", help="what differs between two snapshots")
    dif.add_argument("a", metavar="A")
    dif.add_argument("b", metavar="B")
    dif.add_argument("--json", action="store_true",
                     help="print the differences as JSON (every differing page)")
    dif.add_argument("--pages", metavar="N", default=str(DEFAULT_PAGES),
                     help=f"differing pages listed one by one (default {DEFAULT_PAGES})")


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
        ("vmlab version", f"{info['vmlab_version']} (snapshot format {info['format_version']}, "
                          f"behaviour version {info['behaviour_version']})"),
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
    _print_space(info)
    return 0


#: Sections ``info`` lists by name; the rest are summed on one line.
_SPACE_ROWS = 8


def _print_space(info: dict[str, object]) -> None:
    pages = info["described_pages"]
    shares = info["space"]
    if not isinstance(shares, list) or not isinstance(pages, int):
        return
    if pages:
        print(f"space ({pages:,} pages, {_size(pages * 4096)} of file data, stored as the "
              f"writes and boot files that made them; --full stores them as bytes):")
    else:
        print("space (nothing stored as the writes that made it):")
    total = sum(int(s["compressed"]) for s in shares) or 1
    for s in shares[:_SPACE_ROWS]:
        print(f"  {s['section']:<28}{_size(s['compressed']):>12} "
              f"{100 * int(s['compressed']) / total:5.1f}%  ({_size(s['raw'])} before "
              f"compression)")
    rest = shares[_SPACE_ROWS:]
    if rest:
        size = sum(int(s["compressed"]) for s in rest)
        print(f"  {f'{len(rest)} more sections':<28}{_size(size):>12} "
              f"{100 * size / total:5.1f}%")


def _count(text: str, option: str) -> int:
    """A non-negative count given to ``option``."""
    try:
        n = parse_int(text, option)
    except UnitError as exc:
        raise CliError(f"{option}: {exc}") from None
    if n < 0:
        raise CliError(f"{option}: {n} is negative")
    return n


def _report(args: argparse.Namespace) -> int:
    from scenarios.snapshot.report import ReportError, report, write_report

    last = _count(args.last, "--last")
    try:
        if args.output is None:
            print(report(args.file, last), end="")
        else:
            write_report(args.file, args.output, last)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    return 0


def execute(args: argparse.Namespace) -> int:
    from scenarios.snapshot import SnapshotError, decode
    from scenarios.snapshot.differ import diff

    try:
        if args.action == "info":
            return _info(args)
        if args.action == "report":
            return _report(args)
        if args.action == "decode":
            print(decode(args.file, args.section, args.full_bytes), end="")
            return 0
        pages = _count(args.pages, "--pages")
        result = diff(args.a, args.b, pages)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(result.data, indent=2))
    else:
        for line in result.lines:
            print(line)
    return 0 if result.equal else 1
