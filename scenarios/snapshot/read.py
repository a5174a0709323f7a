"""Reading a snapshot: the file checked into its (migrated) top-level map, nothing restored.

Checked here: the header, the frame, the msgpack and the shape of the tree
(scenarios/snapshot/fileformat.py), the format version (older ones migrated,
scenarios/snapshot/migrations.py), the described pages filled back in, the scenario (the
loader validates it and it must load back unchanged), the runner's records (shape, and
agreement with the state's clock, events and checkpoints) and the state against its hash.
``vmlab snapshot info``, ``decode`` and ``diff`` stop here; loading goes on to restore the
kernel (scenarios/snapshot/load.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from machine.state_generated import save_insn
from scenarios.session_types import CheckpointRecord
from scenarios.snapshot.described import fill as fill_described
from scenarios.snapshot.errors import SnapshotError
from scenarios.snapshot.fields import field_dict, field_int, field_list, field_str, get_path
from scenarios.snapshot.fileformat import (
    FORMAT_NAME,
    TOP_KEYS,
    read_file,
    read_payload,
    unpack_map,
)
from scenarios.snapshot.migrations import migrate
from scenarios.snapshot.scenario import scenario_from_section
from scenarios.state_codec import I64_MAX, state_digest

if TYPE_CHECKING:
    from scenarios.assembler import AssembledProgram
    from scenarios.schema import Scenario
    from scenarios.story import StoryHit


def read_snapshot_bytes(data: bytes, where: str) -> dict[str, object]:
    """Decode and check a snapshot's bytes into its (migrated) top-level map.

    Checked here, without restoring anything: the header, the frame, the msgpack, the shape
    of the tree, the scenario (the loader validates it and it must load back unchanged), the
    runner's records (shape, and agreement with the state's clock, events and checkpoints)
    and the state against its hash.

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    return read_checked(data, where).doc


@dataclass(frozen=True)
class Checked:
    """A snapshot map that passed every check short of restoring the kernel."""

    doc: dict[str, object]
    scenario: Scenario
    records: list[CheckpointRecord]
    story: list[StoryHit]


def read_checked(data: bytes, where: str, verify_hash: bool = True,
                  near: str = "") -> Checked:
    """``read_snapshot_bytes``. ``verify_hash=False`` leaves the state hash to the caller
    (restoring checks the restored kernel's hash, which also covers the stored state);
    ``near`` is the snapshot file's directory, where replay traces are also looked for."""
    version, payload = read_payload(data, where)
    doc = unpack_map(payload, where)
    if doc.get("format") != FORMAT_NAME:
        raise SnapshotError(f"{where}: not a vmlab snapshot (format {doc.get('format')!r})")
    if type(doc.get("version")) is not int or doc.get("version") != version:
        raise SnapshotError(f"{where}: damaged (the header says version {version}, the content "
                            f"{doc.get('version')!r})")
    doc = migrate(doc, version)
    for key in TOP_KEYS:
        if key not in doc:
            raise SnapshotError(f"{where}: damaged (no {key} section)")
    for key in ("scenario", "session", "state", "described"):
        if not isinstance(doc[key], dict):
            raise SnapshotError(f"{where}: damaged ({key} must be a map)")
    try:
        fill_described(doc)
    except ValueError as exc:
        raise SnapshotError(f"{where}: damaged (described pages: {exc})") from None
    for key in ("vmlab_version", "state_hash"):
        if not isinstance(doc[key], str):
            raise SnapshotError(f"{where}: damaged ({key} must be a string)")
    behaviour = doc["behaviour_version"]
    if type(behaviour) is not int or not 0 <= behaviour <= I64_MAX:
        raise SnapshotError(f"{where}: damaged (behaviour_version must be a non-negative "
                            f"integer)")
    state = doc["state"]
    assert isinstance(state, dict)
    if verify_hash and state_digest(state) != doc["state_hash"]:
        raise SnapshotError(f"{where}: damaged (the state does not match its state_hash)")
    try:
        scn_section = doc["scenario"]
        sess_section = doc["session"]
        assert isinstance(scn_section, dict) and isinstance(sess_section, dict)
        scenario = scenario_from_section(scn_section, near)
        _check_scenario_agrees(scenario, field_int(scn_section, "seed", "scenario"),
                               kernel_spec_of(scn_section), state)
        records = _records(sess_section)
        _check_session_section(sess_section, records, state)
        story = _story_hits(sess_section, scenario)
    except SnapshotError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    return Checked(doc, scenario, records, story)


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read and check a snapshot file into its top-level map (nothing is restored).

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    near = os.path.dirname(os.path.abspath(os.fspath(path)))
    return read_checked(read_file(path), os.path.basename(os.fspath(path)), near=near).doc


def _records(section: dict[str, object]) -> list[CheckpointRecord]:
    """The session's checkpoint records, checked."""
    out: list[CheckpointRecord] = []
    for item in field_list(section, "checkpoints", "session"):
        if not isinstance(item, dict):
            raise SnapshotError("session section: a checkpoint record must be a map")
        metrics = item.get("metrics")
        ints: dict[str, int] | None = None
        if metrics is not None:
            if not isinstance(metrics, dict):
                raise SnapshotError("session section: checkpoint metrics must be a map")
            ints = {}
            for name, value in metrics.items():
                if not isinstance(value, int) or isinstance(value, bool):
                    raise SnapshotError("session section: checkpoint metrics must be integers")
                ints[name] = value
        notes: dict[str, str] = {}
        for name, text in field_dict(item, "notes", "session").items():
            if not isinstance(text, str):
                raise SnapshotError("session section: checkpoint notes must be strings")
            notes[name] = text
        out.append(CheckpointRecord(field_str(item, "name", "session"),
                                    field_int(item, "pid", "session"),
                                    field_int(item, "time_ns", "session"), ints, notes))
    return out


def kernel_spec_of(section: dict[str, object]) -> dict[str, str]:
    spec = field_dict(section, "kernel", "scenario")
    out: dict[str, str] = {}
    for key in ("profile", "writeback", "rmap", "vmscan", "swapin"):
        out[key] = field_str(spec, key, "scenario")
    if list(spec) != list(out):
        raise SnapshotError("scenario section: kernel holds profile, writeback, rmap, "
                            "vmscan and swapin only")
    return out


def _check_scenario_agrees(scenario: Scenario, seed: int, spec: dict[str, str],
                           state: dict[str, object]) -> None:
    """The stored scenario must be the one the state runs: the machine, the kernel's
    switches, seed and tunables, and the programs as the assembler builds them."""
    from scenarios.assembler import assemble

    m = scenario.machine
    t = scenario.tunables
    want_machine = {"mem_bytes": m.memory, "disk_bytes": m.disk, "tlb_entries": m.tlb_entries,
                    "elevator": m.elevator}
    want_cfg = {"release": spec["profile"], "writeback": spec["writeback"],
                "rmap": spec["rmap"], "vmscan": spec["vmscan"], "swapin": spec["swapin"],
                "swap_bytes": m.swap,
                "seed": seed,
                "dirty_background_ratio": t.dirty_background_ratio,
                "dirty_ratio": t.dirty_ratio,
                "dirty_writeback_centisecs": t.dirty_writeback_centisecs,
                "dirty_expire_centisecs": t.dirty_expire_centisecs,
                "swappiness": t.swappiness}
    machine = get_path(state, "machine", "config")
    cfg = get_path(state, "cfg")
    if not isinstance(machine, dict) or not isinstance(cfg, dict) or \
            any(machine.get(k) != v or type(machine.get(k)) is not type(v)
                for k, v in want_machine.items()) or \
            any(cfg.get(k) != v or type(cfg.get(k)) is not type(v) for k, v in want_cfg.items()):
        raise SnapshotError("scenario section: the machine, kernel or seed is not the state's")
    try:
        assembly = assemble(scenario, seed)
        programs = [[save_insn(insn) for insn in p.insns] for p in assembly.programs]
    except ValueError as exc:
        raise SnapshotError(f"scenario section: {exc}") from None
    _check_replays_agree(assembly.programs, get_path(state, "kernel", "programs"))
    if programs != get_path(state, "kernel", "programs"):
        raise SnapshotError("scenario section: the programs are not the ones the state runs")


def _check_replays_agree(programs: list[AssembledProgram], stored: object) -> None:
    """Each replayed trace found now is the one the state replays (same checksum)."""
    from machine.isa import OP_REPLAY

    if not isinstance(stored, list) or len(stored) != len(programs):
        return
    for prog, insns in zip(programs, stored, strict=True):
        if not isinstance(insns, list) or len(insns) != len(prog.insns):
            continue
        for insn, old in zip(prog.insns, insns, strict=True):
            if insn.op == OP_REPLAY and isinstance(old, list) and len(old) == 6 \
                    and old[0] == OP_REPLAY and old[5] != insn.s:
                raise SnapshotError(f"scenario section: the trace found for program "
                                    f"{prog.program} is not the one this snapshot replays "
                                    f"(checksum {insn.s[:16]}, the snapshot's "
                                    f"{str(old[5])[:16]}); put the recorded trace back where "
                                    f"the scenario names it or next to the snapshot")


def _check_session_section(section: dict[str, object], records: list[CheckpointRecord],
                           state: dict[str, object]) -> None:
    """The runner's records: their shape, and the same clock, events and checkpoints as the
    state (``Kernel.checkpoints`` records every hit the session saw)."""
    field_str(section, "end_reason", "session")
    for item in field_list(section, "expectations", "session"):
        if not isinstance(item, dict) or not isinstance(item.get("ok"), bool) or not all(
                isinstance(item.get(k), str) for k in ("name", "at", "detail")):
            raise SnapshotError("session section: an expectation must be {name, at, ok, detail}")
    now = get_path(state, "machine", "clock", "now")
    if field_int(section, "events", "session") != get_path(state, "machine", "events") or \
            field_int(section, "sim_time_ns", "session") != now:
        raise SnapshotError("session section: events or time disagree with the state")
    hits = get_path(state, "kernel", "checkpoints")
    if [[r.name, r.pid, r.time_ns] for r in records] != hits:
        raise SnapshotError("session section: the checkpoint records disagree with the kernel's")


def _story_hits(section: dict[str, object], scenario: Scenario) -> list[StoryHit]:
    """The story texts shown so far: each entry of the scenario's story at most once, at
    events and times that do not go backwards nor beyond the session's."""
    from scenarios.story import StoryHit

    out: list[StoryHit] = []
    seen: set[int] = set()
    event, time_ns = 0, 0
    for item in field_list(section, "story", "session"):
        if not (isinstance(item, list) and len(item) == 3
                and all(type(v) is int for v in item)):
            raise SnapshotError("session section: a story record must be [index, event, "
                                "time_ns]")
        index, at_event, at_ns = item
        if not 0 <= index < len(scenario.story) or index in seen:
            raise SnapshotError(f"session section: story record {index} is not an entry of "
                                f"the scenario's story, or is there twice")
        if at_event < event or at_ns < time_ns \
                or at_event > field_int(section, "events", "session") \
                or at_ns > field_int(section, "sim_time_ns", "session"):
            raise SnapshotError("session section: the story records go back in time or "
                                "beyond the session's")
        seen.add(index)
        event, time_ns = at_event, at_ns
        out.append(StoryHit(index, scenario.story[index].text, at_event, at_ns))
    return out
