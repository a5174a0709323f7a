"""Record the memory accesses of a real program and replay them on the emulated machine.

  record OUT -- COMMAND [ARGS...]
                 run COMMAND under valgrind's lackey (--tool=lackey --trace-mem=yes) and
                 convert its accesses into the trace OUT as they arrive (no big temporary
                 file). Needs valgrind. The command's output goes to /dev/null unless
                 --show-output; --keep-log FILE also saves lackey's raw log.
  import LOG OUT convert a lackey log recorded elsewhere ('valgrind --tool=lackey
                 --trace-mem=yes --log-file=LOG COMMAND'); the same log gives the same trace
                 as 'record'.
  info FILE      what a trace holds: command, accesses by kind, pages, regions and where
                 each one is placed on the i386 machine, checksum.

A trace is replayed by the scenario op 'replay FILE' (docs/scenarios.md): the regions are
mapped at their i386 places and every access runs through the MMU and the VM model. A
damaged or foreign file is refused with one line (exit status 2).

examples:
  vmlab trace record sort.vmtrace -- sort /etc/passwd
  vmlab trace info sort.vmtrace
  valgrind --tool=lackey --trace-mem=yes --log-file=ls.log ls /
  vmlab trace import ls.log ls.vmtrace
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from scenarios.cli.common import CliError

#: Seconds between progress updates on a terminal.
PROGRESS_EVERY_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rec = sub.add_parser("record", help="trace a command under valgrind's lackey",
                         usage="vmlab trace record [-h] [--keep-log LOG] [--show-output] "
                               "OUT -- COMMAND [ARGS...]")
    rec.add_argument("out", metavar="OUT", help="the trace file to write (.vmtrace)")
    rec.add_argument("argv", metavar="COMMAND", nargs=argparse.REMAINDER,
                     help="the command to trace, after --")
    rec.add_argument("--keep-log", metavar="LOG", help="also save lackey's raw log here")
    rec.add_argument("--show-output", action="store_true",
                     help="let the command write to this terminal")
    imp = sub.add_parser("import", help="convert a lackey log into a trace")
    imp.add_argument("log", metavar="LOG")
    imp.add_argument("out", metavar="OUT")
    info = sub.add_parser("info", help="what a trace holds")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print it as JSON")


class _Progress:
    """A one-line progress report on stderr, on a terminal only."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = self.start

    def __call__(self, conv: object) -> None:
        from scenarios.trace.lackey import Converter

        assert isinstance(conv, Converter)
        now = time.monotonic()
        if not self.tty or now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        sys.stderr.write(f"\r{self.verb}: {conv.accesses:,} accesses, "
                         f"{conv.bytes_in / 1e6:,.0f} MB of log, {now - self.start:.0f} s ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.last != self.start:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _summary(out: str, size: int, trace: object, seconds: float) -> None:
    from scenarios.trace.format import Trace

    assert isinstance(trace, Trace)
    print(f"{out}: {trace.accesses:,} accesses in {trace.runs:,} page runs, "
          f"{trace.pages:,} pages in {len(trace.regions)} regions, {size:,} bytes "
          f"({seconds:.1f} s)")


def _record(args: argparse.Namespace) -> int:
    from scenarios.trace.format import write_trace
    from scenarios.trace.record import record

    command = list(args.argv)
    # options may also follow OUT, before the "--" that starts the command (argparse may
    # already have removed that "--")
    while command and (command[0] in ("--show-output", "--keep-log")
                       or command[0].startswith("--keep-log=")):
        opt = command.pop(0)
        if opt == "--show-output":
            args.show_output = True
        elif opt == "--keep-log":
            if not command:
                raise CliError("record: --keep-log needs a file name")
            args.keep_log = command.pop(0)
        else:
            args.keep_log = opt.split("=", 1)[1]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("record: no command to trace (usage: vmlab trace record OUT -- "
                       "COMMAND [ARGS...])")
    progress = _Progress("recording")
    try:
        rec = record(command, progress, keep_log=args.keep_log, show_output=args.show_output)
    finally:
        progress.done()
    size = write_trace(rec.trace, args.out)
    _summary(args.out, size, rec.trace, time.monotonic() - progress.start)
    if rec.exit_code != 0:
        print(f"note: the command exited with status {rec.exit_code}; its accesses up to "
              f"then are recorded", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from scenarios.trace.format import TraceError, write_trace
    from scenarios.trace.record import convert_stream

    progress = _Progress("converting")
    try:
        with open(args.log, "rb") as f:
            conv = convert_stream(f, progress)
    except OSError as exc:
        raise TraceError(f"cannot read {args.log}: {exc.strerror or exc}") from None
    except TraceError as exc:
        raise TraceError(f"{os.path.basename(args.log)}: {exc}") from None
    finally:
        progress.done()
    try:
        trace = conv.finish()
    except TraceError as exc:
        raise TraceError(f"{os.path.basename(args.log)}: {exc}") from None
    size = write_trace(trace, args.out)
    _summary(args.out, size, trace, time.monotonic() - progress.start)
    return 0


def trace_info(path: str) -> dict[str, object]:
    """What ``vmlab trace info`` prints, as plain data."""
    from scenarios.trace.format import read_trace
    from scenarios.trace.regions import relocate

    t = read_trace(path)
    placements = relocate(t.regions)
    crossing = sum(1 for o, s in zip(t.offset, t.size, strict=True) if o + s > 4096)
    return {
        "file": path,
        "bytes": os.path.getsize(path),
        "command": t.command,
        "accesses": t.accesses,
        "kinds": dict(t.kinds),
        "runs": t.runs,
        "pages": t.pages,
        "page_crossing_accesses": crossing,
        "checksum": t.checksum,
        "regions": [{"name": p.region.name, "start": p.region.start_page << 12,
                     "pages": p.region.npages, "i386_start": p.base} for p in placements],
    }


def _info(args: argparse.Namespace) -> int:
    info = trace_info(args.file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    kinds = info["kinds"]
    assert isinstance(kinds, dict)
    print(f"{'file:':<18}{info['file']} ({info['bytes']:,} bytes)")
    print(f"{'command:':<18}{info['command']}")
    print(f"{'accesses:':<18}{info['accesses']:,} (fetch {kinds['I']:,}, load {kinds['L']:,}, "
          f"store {kinds['S']:,}, modify {kinds['M']:,}) in {info['runs']:,} page runs")
    print(f"{'pages:':<18}{info['pages']:,} distinct ({info['page_crossing_accesses']:,} "
          f"accesses cross a page boundary and touch both pages)")
    print(f"{'checksum:':<18}{info['checksum']}")
    regions = info["regions"]
    assert isinstance(regions, list)
    print("regions (recorded -> i386; page offsets and the layout inside each region kept, "
          "so every distinct page of the trace is one distinct page of the replay):")
    for r in regions:
        size = r["pages"] * 4096
        print(f"  {r['name']:<9}{r['start']:#014x} -> {r['i386_start']:#010x}  "
              f"{r['pages']:>6,} pages ({size / 1024:,.0f} KiB)")
    return 0


def execute(args: argparse.Namespace) -> int:
    from scenarios.trace.format import TraceError

    try:
        if args.action == "record":
            return _record(args)
        if args.action == "import":
            return _import(args)
        return _info(args)
    except TraceError as exc:
        raise CliError(str(exc)) from None
