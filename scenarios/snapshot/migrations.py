"""Snapshot format migrations: one function per format step, chained by ``MIGRATIONS``.

An older format version goes through the named steps of ``MIGRATIONS`` (``_migrate_N_to_M``,
one per version step) until it is ``SNAPSHOT_VERSION``: ``_migrate_1_to_2`` brings
version-1 files (before the pte-chain kernels dropped anon_vma and 2.6.5 got its own
swap-cache form) up to date; ``_migrate_2_to_3`` version-2 files (before the oracles named
the frame, swap slot or disk block that holds a page instead of repeating its bytes);
``_migrate_3_to_4`` version-3 files (before reclaim and the swap-in fault became design
switches: they ran 2.6.6's reclaim on every profile and go on doing so; they get their
profile's swap-in fault; and they did not record the model's behaviour version);
``_migrate_4_to_5`` version-4 files (before the state recorded its write-payload generator
and the oracles kept pages as descriptions: they wrote with the first generator and go on
doing so; they had no story and sampled no counters over time: an empty series samples from
their clock on); ``_migrate_5_to_6_frames`` (migrate_frames.py) version-5 files
(before each function of a sleeping kernel path had its own frame on the task's stack);
``_migrate_6_to_7_cwb`` (migrate_cwb.py) version-6 files (before the writeback frames
numbered their phases in the order of their C source).

A step sees unchecked data: it checks the old state against its hash before it changes
anything (a migration never launders a damaged file), and any failure is one
``SnapshotError`` line. Each step has a frozen fixture of its old format
(tests/scenarios/fixtures/snapshot-vN.vmsnap).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Final

from scenarios.snapshot.described import fill as fill_described
from scenarios.snapshot.errors import SnapshotError, exc_line
from scenarios.snapshot.migrate_cwb import _migrate_6_to_7_cwb, vl_stacks_6_to_7
from scenarios.snapshot.migrate_frames import (
    _migrate_5_to_6_frames,
    vl_stacks_as_frames,
    vl_stacks_put_back,
)
from scenarios.state_codec import state_digest


def _migrate_1_to_2(doc: dict[str, object]) -> dict[str, object]:
    """Format 1 -> 2. What changed in the state (the container is the same):

    * pte-chain kernels (2.6.5, 2.6.6) no longer keep anon_vmas beside the chains: anonymous
      pages of 2.6.6 have a NULL ``mapping``, so the anon_vmas and every vma's link to one go;
    * the 2.6.5 profile keeps a swap-cache page's entry in ``index`` (with ``mapping`` =
      swapper_space, a reference re-linked on restore), not in ``private``;
    * the file oracle keeps ``mmap_pending`` per file (shared-mapping stores fsync cannot
      see yet); version 1 did not track them, so every file starts with none.

    The old state must match its hash first (a migration never launders a damaged file);
    the new hash is computed over the new state.
    """
    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-1 state does not match its state_hash")
    cfg = state["cfg"]
    if cfg["rmap"] == "pte_chain":
        mm = state["mm"]
        mm["anon_vmas"] = []
        for vma in mm["vmas"]:
            vma["anon_vma"] = -1
        if cfg["release"] == "2.6.5":
            mem_map = state["mem_map"]
            for pfn in state["swapper_space"]["pfns"]:
                mem_map["index"][pfn] = mem_map["private"][pfn]
                mem_map["private"][pfn] = 0
    for f in state["oracle"]["files"]:
        f["mmap_pending"] = []
    out = dict(doc)
    out["version"] = 2
    out["state_hash"] = state_digest(state)
    return out


def _migrate_2_to_3(doc: dict[str, object]) -> dict[str, object]:
    """Format 2 -> 3: the oracles store a page whose bytes are exactly those of the place
    the kernel's structures lead to (a user page's frame or swap slot, a file page's
    page-cache frame or disk block) as that place (``in_frame``, ``on_disk``), not as bytes
    (kernelmodel/oracle/oracle_place.py).

    A version-2 oracle (every page as bytes, no places) is still a state this vmlab restores,
    but not the one it writes, and which pages become places depends on page tables, the
    page and swap caches and the disk: so the old state (checked against its hash first) is
    restored and written again, and the new hash computed over what is written.
    """
    from kernelmodel.state.restore import vl_kernel_from_state

    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-2 state does not match its state_hash")
    for oracle in [state["mm_oracle"], *state["oracle"]["files"]]:
        oracle["in_frame"] = []
        oracle["on_disk"] = []
    # what this vmlab's restorer reads; dropped again from what it writes
    _add_format_4_fields(state, swapin="2.6.7")
    _add_format_5_payload_fields(state)
    old_stacks = vl_stacks_as_frames(state)
    vl_stacks_6_to_7(state)
    enabled = gc.isenabled()
    gc.disable()
    try:
        new = vl_kernel_from_state(state).to_state()
    finally:
        if enabled:
            gc.enable()
    vl_stacks_put_back(new, old_stacks)
    _drop_format_5_payload_fields(new)
    _drop_format_4_fields(new)
    out = dict(doc)
    out["version"] = 3
    out["state"] = new
    out["state_hash"] = state_digest(new)
    return out


def _with_key_after(d: dict[str, object], after: str, key: str,
                    value: object) -> dict[str, object]:
    """A copy of ``d`` with ``key`` inserted right after ``after``."""
    if after not in d or key in d:
        raise ValueError(f"expected {after!r} and no {key!r}")
    out: dict[str, object] = {}
    for k, v in d.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


# ---- format 3 -> 4 ---------------------------------------------------------------------------
# Everything format 4 added lives between here and MIGRATIONS: the fields (added and, for the
# older steps that restore through this vmlab's restorer, dropped again) and the step itself.


def _add_format_4_fields(state: dict[str, object], swapin: str) -> None:
    """What format 4 added to the state, in place, each where ``to_state`` puts it (the state
    hash covers the order): ``cfg.vmscan`` = "2.6.6" (the reclaim every older file ran) and
    ``cfg.swapin`` after it, ``vmstat.nr_vmscan_write`` = 0 and kswapd's ``nr_mapped`` = 0."""
    cfg, vmstat, core = state.get("cfg"), state.get("vmstat"), state.get("kernel")
    if not isinstance(cfg, dict) or not isinstance(vmstat, dict) or not isinstance(core, dict):
        raise ValueError("the state has no cfg, vmstat or kernel map")
    cfg = _with_key_after(cfg, "rmap", "vmscan", "2.6.6")
    state["cfg"] = _with_key_after(cfg, "vmscan", "swapin", swapin)
    state["vmstat"] = _with_key_after(vmstat, "pgrotated", "nr_vmscan_write", 0)
    for task in core["tasks"]:
        for op in task["kstack"]:
            if op.get("op") == "kswapd":
                op["nr_mapped"] = 0


def _drop_format_4_fields(state: dict[str, object]) -> None:
    """Undo ``_add_format_4_fields`` (for a migration below format 4 that restores a state
    with this vmlab's restorer and writes it back in its own format)."""
    cfg, vmstat, core = state["cfg"], state["vmstat"], state["kernel"]
    assert isinstance(cfg, dict) and isinstance(vmstat, dict) and isinstance(core, dict)
    cfg.pop("swapin")
    if cfg.pop("vmscan") != "2.6.6" or vmstat.pop("nr_vmscan_write") != 0:
        raise ValueError("a state below format 4 ran 2.6.6's reclaim and counted no writes")
    for task in core["tasks"]:
        for op in task["kstack"]:
            if op.get("op") == "kswapd":
                op.pop("nr_mapped")


def _add_design_switches(doc: dict[str, object]) -> dict[str, object]:
    """Part of format 3 -> 4: reclaim (``vmscan``, "2.6.6" or "2.6.7") and the swap-in fault
    (``swapin``, the release whose do_swap_page runs) are design switches.

    Every version-3 file ran 2.6.6's reclaim, whatever its profile, so the migrated file
    says so (``vmscan = "2.6.6"`` in the kernel config and the stored kernel spec) and
    resumes as it would have: a 2.6.7 file shows a switched reclaim rather than silently
    changing code mid-run. A version-3 file gets its profile's swap-in fault
    (``scenarios.profiles.SWAPIN``): resumed, it goes on as that profile now runs. The
    scenario's own kernel table gets its profile's designs, as this vmlab reads a table
    without them. vmstat gains ``nr_vmscan_write`` (pages reclaim wrote; uncounted before,
    so 0). kswapd's op gains ``nr_mapped`` (2.6.7's ``sc.nr_mapped``; unused by 2.6.6's
    reclaim, 0). The old state must match its hash first; the new hash is computed over the
    new state.
    """
    from kernelmodel.kernel.config import vl_release_vmscan
    from scenarios.profiles import SWAPIN

    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-3 state does not match its state_hash")
    scn = doc.get("scenario")
    if not isinstance(scn, dict):
        raise ValueError("the scenario section is not a map")
    swapin = SWAPIN[str(scn["kernel"]["profile"])]
    _add_format_4_fields(state, swapin)
    scn["kernel"]["vmscan"] = "2.6.6"  # what the run used
    scn["kernel"]["swapin"] = swapin
    doc_kernel = scn["doc"]["kernel"]  # what the scenario names: its profile's own
    doc_kernel["vmscan"] = vl_release_vmscan(str(doc_kernel["profile"]))
    doc_kernel["swapin"] = SWAPIN[str(doc_kernel["profile"])]
    out = dict(doc)
    out["state_hash"] = state_digest(state)
    return out


def _add_behaviour_version(doc: dict[str, object]) -> dict[str, object]:
    """Part of format 3 -> 4: the map records ``behaviour_version``, the model behaviour its state
    was produced under (``scenarios.behaviour``). Older files did not record it: they get
    ``UNRECORDED`` (0), so resuming one says that it may go on differently. It also has a
    ``described`` section (compact snapshots, scenarios/snapshot/described.py): older files
    describe nothing. The state and its hash are unchanged.
    """
    from scenarios.behaviour import UNRECORDED

    out: dict[str, object] = {}
    for key, value in doc.items():
        if key in ("behaviour_version", "described"):
            raise ValueError(f"a {key} section in a file older than it")
        if key == "state":
            out["described"] = {}
        out[key] = value
        if key == "vmlab_version":
            out["behaviour_version"] = UNRECORDED
    if "behaviour_version" not in out or "described" not in out:
        raise ValueError("no vmlab_version or state section")
    return out


def _migrate_3_to_4(doc: dict[str, object]) -> dict[str, object]:
    """Format 3 -> 4: reclaim and the swap-in fault became design switches
    (``_add_design_switches``), and a snapshot records the behaviour version of the model
    that wrote it and may describe file pages instead of storing them
    (``_add_behaviour_version``)."""
    out = _add_behaviour_version(_add_design_switches(doc))
    out["version"] = 4
    return out


# ---- format 4 -> 5 ---------------------------------------------------------------------------


def _add_format_5_payload_fields(state: dict[str, object]) -> None:
    """What format 5 added to the state for write payloads, in place, each where
    ``to_state`` puts it: the file oracle's ``generator`` (first; 1, the generator every
    older file wrote with) and an empty ``described`` after ``on_disk`` in each oracle file
    and in the memory oracle (older oracles held every page as bytes or a place)."""
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    oracle, mm_oracle = state.get("oracle"), state.get("mm_oracle")
    if not isinstance(oracle, dict) or not isinstance(mm_oracle, dict) or \
            not isinstance(oracle.get("files"), list):
        raise ValueError("the state has no oracle or mm_oracle map")
    if "generator" in oracle:
        raise ValueError("a payload generator in a file older than it")
    state["oracle"] = {"generator": PAYLOAD_GEN_SPLITMIX, **oracle}
    files = oracle["files"]
    assert isinstance(files, list)
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise ValueError("an oracle file is not a map")
        files[i] = _with_key_after(f, "on_disk", "described", [])
    state["mm_oracle"] = _with_key_after(mm_oracle, "on_disk", "described", [])


def _drop_format_5_payload_fields(state: dict[str, object]) -> None:
    """Undo ``_add_format_5_payload_fields`` (for a migration below format 5 that restores
    a state with this vmlab's restorer and writes it back in its own format: a restored
    older state describes nothing)."""
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    oracle, mm_oracle = state["oracle"], state["mm_oracle"]
    assert isinstance(oracle, dict) and isinstance(mm_oracle, dict)
    if oracle.pop("generator") != PAYLOAD_GEN_SPLITMIX or mm_oracle.pop("described") != [] or \
            any(f.pop("described") != [] for f in oracle["files"]):
        raise ValueError("a state below format 5 wrote with generator 1 and described nothing")


def _migrate_4_to_5_payload(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5, write payloads: the state records its payload generator
    (kernelmodel/lib/payload.py; format 5 writes with SHAKE-128, generator 2) and the oracles
    may keep a page as a description (a file page as the write that made it, a user page as
    the touch strokes that reached it) instead of its bytes.

    Every version-4 file wrote with the first generator (SplitMix64), so the migrated state
    says so and goes on writing with it: its write payloads, and a compact file's described
    pages, come out byte for byte as they were written. The described pages of a compact
    file are filled in here, with that generator (the hash covers them), so the migrated map
    is a full one. The old state must match its hash first; the new hash is computed over
    the new state.
    """
    from kernelmodel.lib.payload import PAYLOAD_GEN_SPLITMIX

    fill_described(doc, PAYLOAD_GEN_SPLITMIX)
    doc["described"] = {}
    state = doc.get("state")
    if not isinstance(state, dict) or state_digest(state) != doc.get("state_hash"):
        raise ValueError("the version-4 state does not match its state_hash")
    _add_format_5_payload_fields(state)
    out = dict(doc)
    out["version"] = 5
    out["state_hash"] = state_digest(state)
    return out


def _migrate_4_to_5_story(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: the session records the story texts shown so far. A format-4 file's
    scenario has no ``[[story]]`` (the language had none), so none had been shown."""
    out = dict(doc)
    session = out.get("session")
    if not isinstance(session, dict):
        raise ValueError("no session section")
    out["session"] = {**session, "story": []}
    out["version"] = 5
    return out


def _migrate_4_to_5_series(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: the session section holds the counters sampled over time
    (``scenarios.series``). A version-4 file sampled nothing: it gets an empty series at the
    default interval whose first sample is at its clock. The state and its hash are
    unchanged."""
    from scenarios.series import CounterSeries

    session = doc.get("session")
    if not isinstance(session, dict) or "series" in session:
        raise ValueError("the session section is not a map, or has a series already")
    now = session.get("sim_time_ns")
    if not isinstance(now, int) or now < 0:
        raise ValueError("the session section has no simulated time")
    out = dict(doc)
    out["session"] = {**session, "series": CounterSeries(start_ns=now).to_section()}
    out["version"] = 5
    return out


def _migrate_4_to_5(doc: dict[str, object]) -> dict[str, object]:
    """Format 4 -> 5: write payloads (``_migrate_4_to_5_payload``), the story texts shown
    so far (``_migrate_4_to_5_story``) and the counters over time
    (``_migrate_4_to_5_series``)."""
    return _migrate_4_to_5_series(_migrate_4_to_5_story(_migrate_4_to_5_payload(doc)))


#: Format version N -> the step that turns a version-N map into a version-(N+1) map
#: (``_migrate_N_to_M``). A new format is one line here: its step from the one before.
MIGRATIONS: dict[int, Callable[[dict[str, object]], dict[str, object]]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
    5: _migrate_5_to_6_frames,
    6: _migrate_6_to_7_cwb,
}

#: The format this vmlab writes: the one the last step reaches.
SNAPSHOT_VERSION: Final = max(MIGRATIONS) + 1


def migrate(doc: dict[str, object], version: int) -> dict[str, object]:
    """Apply the migration steps from ``version`` up to SNAPSHOT_VERSION."""
    while version < SNAPSHOT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SnapshotError(f"snapshot format version {version} is older than this vmlab "
                                f"can read (no migration from version {version}; it reads "
                                f"{readable_versions()})")
        try:
            doc = step(doc)
        except Exception as exc:  # a migration sees unchecked data
            raise SnapshotError(f"cannot migrate from format version {version}: "
                                f"{exc_line(exc)}") from None
        got = doc.get("version") if isinstance(doc, dict) else None
        if got != version + 1:
            raise SnapshotError(f"migration from format version {version} produced version "
                                f"{got!r}, not {version + 1}")
        version += 1
    return doc


def readable_versions() -> str:
    """The format versions this vmlab reads, for a message."""
    oldest = SNAPSHOT_VERSION
    while oldest - 1 in MIGRATIONS:
        oldest -= 1
    return f"version {oldest}" if oldest == SNAPSHOT_VERSION else \
        f"versions {oldest} to {SNAPSHOT_VERSION}"
