"""Shared pieces of the snapshot tests: a small scenario that exercises every part of the
model a snapshot must carry, and helpers that run, cut and compare sessions.

The scenario ("snap-tiny") runs on a 4 MiB machine: a writer that writes, fsyncs and
truncates a file; a hog whose anonymous memory does not fit beside the page cache (swap-out
and swap-in) and that forks a child which rewrites part of it (copy-on-write); a reader that
maps a file shared and reads it with random reads. It has a checkpoint expectation and an
end expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.loader import load_text
from scenarios.schema import Scenario
from scenarios.session import ExpectationResult, Session
from scenarios.snapshot import snapshot_bytes

TINY_TOML = """
name = "snap-tiny"
description = "A small mixed workload for snapshot tests: files, fsync, mmap, fork and swap"
seed = 5
duration = "20s"
# 2.6.7's own reclaim stalls a 4 MiB machine once its kswapd has scanned the zone twice over
# with every page still being written (docs/scenarios.md); 2.6.6's runs this swap load
kernel = {profile = "2.6.7", vmscan = "2.6.6"}

[machine]
memory = "4MiB"
disk = "32MiB"
swap = "8MiB"

[[files]]
path = "data"
size = "256KiB"
content = "random"

[[tasks]]
name = "writer"
program = "writer"

[[tasks]]
name = "hog"
program = "hog"

[[tasks]]
name = "reader"
program = "reader"

[programs]
writer = [
  "open log create",
  "loop 3",
  "  write log pos 48KiB",
  "  fsync log",
  "end",
  "checkpoint logged",
  "truncate log 20KiB",
  "close log",
]
hog = [
  "mmap 0x4000_0000 2560KiB anon private rw",
  "touch 0x4000_0000 2560KiB write",
  "checkpoint filled",
  "fork child",
  "touch 0x4000_0000 1MiB read",
  "touch 0x4010_0000 1536KiB write stride 8KiB",
  "wait",
  "touch 0x4000_0000 2560KiB read",
  "verify",
  "munmap 0x4000_0000 2560KiB",
]
child = [
  "touch 0x4000_0000 256KiB write",
  "verify",
  "exit 0",
]
reader = [
  "open data",
  "mmap 0x5000_0000 256KiB data shared ro",
  "touch 0x5000_0000 256KiB read",
  "read data 0 64KiB x 4 random",
  "sleep 20ms",
  "close data",
]

[[expect]]
at = "logged"
check = "fsync_calls >= 3"

[[expect]]
check = "pswpout > 0 and pswpin > 0 and cow_faults > 0 and data_verified and invariants_ok"
"""


def tiny_scenario() -> Scenario:
    return load_text(TINY_TOML, source="snap-tiny.toml", default_name="snap-tiny")


def tiny_session() -> Session:
    return Session(tiny_scenario())


def writing_as_format_4(s: Session) -> Session:
    """``s`` (freshly booted, nothing written yet) writes its payloads with the generator
    snapshot formats before 5 recorded implicitly (payload.PAYLOAD_GEN_SPLITMIX)."""
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    oracle = s.kernel.oracle
    oracle.generator = PAYLOAD_GEN_SPLITMIX
    for f in oracle.files.values():
        f.generator = PAYLOAD_GEN_SPLITMIX
    return s


def undescribe_oracles(s: Session) -> None:
    """Hold every page of both oracles as bytes, as formats before 5 did (the pages' contents
    are unchanged; only their form in the state)."""
    for f in s.kernel.oracle.files.values():
        for index in list(f.described):
            f.pages[index] = f.expected(index)
        f.described.clear()
    for table in s.kernel.mm_oracle.mms.values():
        for page in table.values():
            page.materialize()


@dataclass(frozen=True)
class Outcome:
    """Everything a finished run reports."""

    state_hash: str
    metrics: dict[str, int]
    expectations: list[ExpectationResult]
    events: int
    sim_time_ns: int
    end_reason: str


def finish(session: Session) -> Outcome:
    """Run to the end and collect what 'vmlab run' reports (in its order)."""
    session.run()
    results = session.evaluate_expectations()
    metrics = session.metrics()
    return Outcome(session.state_hash(), metrics, results, session.events,
                   session.sim_time_ns, session.end_reason)


def event_cuts(total: int, fractions: tuple[int, ...] = (7, 30, 55, 75, 92)) -> list[int]:
    """Distinct event counts at these percentages of a run of ``total`` events."""
    cuts: list[int] = []
    for f in fractions:
        c = max(1, total * f // 100)
        if c not in cuts and c < total:
            cuts.append(c)
    return cuts


def run_with_snapshots(session: Session, cuts: list[int]) -> tuple[list[bytes], Outcome]:
    """Run ``session`` through each event count of ``cuts`` (ascending), snapshotting there,
    then to the end."""
    snaps: list[bytes] = []
    for cut in cuts:
        session.run(until_events=cut)
        snaps.append(snapshot_bytes(session))
    return snaps, finish(session)
