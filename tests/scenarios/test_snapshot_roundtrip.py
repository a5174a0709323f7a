"""Snapshots restore exactly (scenarios/snapshot/, kernelmodel/state/restore.py).

* run to the end == snapshot at a cut + resume to the end (state hash, metrics, expectations),
  for the small test scenario at event, time and checkpoint cuts (each resumed session runs
  to the end), and for every built-in scenario at five or more cuts (each resumed session
  runs beside the original to the next cut, where the two kernels must be equal object for
  object; the last runs to the end);
* save -> load -> save gives identical bytes;
* saving changes nothing in the running session;
* every attribute of every restored object equals the original's, except the ones
  ``IGNORED_ATTRS`` names with its reason;
* a snapshot resumed in another process gives the same state hash.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
from test_snapshot_support import (
    TINY_TOML,
    event_cuts,
    finish,
    run_with_snapshots,
    tiny_session,
)

from kernelmodel.include.trace_generated import save_trace_ring
from scenarios.library import builtin_names
from scenarios.session import Session
from scenarios.snapshot import (
    load_snapshot,
    load_snapshot_bytes,
    save_snapshot,
    snapshot_bytes,
)

ROOT = Path(__file__).resolve().parents[2]

#: Attributes a restored object may hold differently, each with the reason.
IGNORED_ATTRS: dict[tuple[str, str], str] = {
    ("Clock", "_heap"): "cancelled events stay in the heap until they reach the top; a snapshot "
                        "stores only the pending ones (compared through pending_events)",
    ("Clock", "_payload"): "compared through pending_events, which orders it",
    ("PhysicalMemory", "words"): "a view of mem, which is compared",
    ("Disk", "_chunks"): "all-zero chunks are not stored; compared through to_state",
    ("Disk", "_sparse"): "a chunk written in parts is whole until rewritten and may load "
                         "sparse; compared through to_state",
    ("RadixTreeRoot", "vl_path_node"): "scratch path of tag_clear and delete (C's stack)",
    ("RadixTreeRoot", "vl_path_offset"): "scratch path of tag_clear and delete (C's stack)",
    ("Kernel", "slice_ns"): "time used by the last slice; reset when the next slice starts",
    ("Cpu", "_walks_seen"): "reset when Cpu.run starts",
    ("Cpu", "_loaded"): "scratch value of the access in progress inside Cpu.run",
    ("TraceRing", "ring"): "a snapshot keeps the newest 1024 records (to_state's window)",
    ("Kernel", "vl_checker"): "the invariant checker (a function) that boot and restore attach; "
    "not state",
}


# ---- run == snapshot + resume -------------------------------------------------------------------


def test_tiny_resume_from_every_cut_matches_the_full_run() -> None:
    reference = finish(tiny_session())
    cuts = event_cuts(reference.events)
    assert len(cuts) == 5
    original = tiny_session()
    snaps, outcome = run_with_snapshots(original, cuts)
    assert outcome == reference, "taking snapshots changed the run"
    # a time cut and a checkpoint cut too
    s = tiny_session()
    s.run(until_ns=reference.sim_time_ns // 3)
    snaps.append(snapshot_bytes(s))
    s.run(until_checkpoint="logged")
    snaps.append(snapshot_bytes(s))
    for data in snaps:
        restored = load_snapshot_bytes(data)
        assert snapshot_bytes(restored) == data, "save -> load -> save changed the bytes"
        assert finish(restored) == reference


#: Cut points of the built-in runs (event counts), denser at the start so that even the
#: shortest built-in (a dozen events) gets five; a run ends between two of them.
BUILTIN_CUTS = (1, 2, 3, 4, 6, 8, *(1 << n for n in range(4, 24, 2)))


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names())
def test_builtin_resume_from_every_cut_matches_the_full_run(name: str) -> None:
    """Every built-in, cut at each of BUILTIN_CUTS it reaches (five or more).

    The run and the session resumed from the snapshot at cut i go on side by side to cut
    i + 1, where every attribute of every object of the two kernels must be equal (and the
    state hashes and the runner's records): from there on both futures are the same, so
    resuming at cut i and running to the end gives the uninterrupted run's end. The session
    resumed from the last cut runs to the end and must report the same state hash, metrics
    and expectations. (Running each resumed session to the end separately proves the same at
    twice the cost; the small scenario's test does that.)
    """
    original = Session.load(name)
    restored: Session | None = None
    compared = 0
    for cut in BUILTIN_CUTS:
        original.run(until_events=cut)
        if restored is not None:
            restored.run(until_events=cut)
            assert restored.events == original.events
            assert restored.state_hash() == original.state_hash(), f"{name} at event {cut}"
            assert restored.checkpoints == original.checkpoints
            assert restored.end_reason == original.end_reason
            assert _compare_graphs(original.kernel, restored.kernel) == [], f"{name} at {cut}"
            compared += 1
        data = snapshot_bytes(original)
        restored = load_snapshot_bytes(data)
        assert snapshot_bytes(restored) == data, "save -> load -> save changed the bytes"
        if original.events < cut:
            break
    assert restored is not None
    assert finish(restored) == finish(original)
    assert compared >= 5, compared


def test_saving_changes_nothing_in_the_session() -> None:
    s = tiny_session()
    s.run(until_events=200)
    before = s.state_hash()
    first = snapshot_bytes(s)
    assert s.state_hash() == before
    assert snapshot_bytes(s) == first


def test_python_api_save_and_load(tmp_path: Path) -> None:
    s = tiny_session()
    s.run(until_checkpoint="filled")
    path = tmp_path / "filled.vmsnap"
    saved = save_snapshot(s, path)
    assert saved.size == path.stat().st_size
    assert saved.state_hash == s.state_hash()
    restored = load_snapshot(path)
    assert restored.state_hash() == s.state_hash()
    assert [r.name for r in restored.checkpoints] == [r.name for r in s.checkpoints]
    assert restored.events == s.events
    assert finish(restored) == finish(s)


# ---- every attribute of every object ------------------------------------------------------------


_SLOTS: dict[type, tuple[str, ...]] = {}


def _attrs(obj: object) -> dict[str, object]:
    """The instance attributes of a model object, interpreted or compiled (mypyc)."""
    names = _SLOTS.get(type(obj))
    if names is None:
        found: list[str] = []
        for cls in type(obj).__mro__:
            found.extend(getattr(cls, "__mypyc_attrs__", ()))
        names = tuple(dict.fromkeys(n for n in found if not n.startswith("__")))
        _SLOTS[type(obj)] = names
    out: dict[str, object] = {}
    for name in names:
        try:
            out[name] = getattr(obj, name)
        except AttributeError:
            continue
    if hasattr(obj, "__dict__"):
        for name, value in vars(obj).items():
            out.setdefault(name, value)
    return out


_PLAIN = frozenset({type(None), bool, int, float, str, bytes})


def _is_model_object(obj: object) -> bool:
    module = type(obj).__module__
    return module.startswith(("machine.", "kernelmodel."))


def _compare_graphs(a: object, b: object) -> list[str]:
    """Walk two object graphs side by side; one line per difference (iterative)."""
    problems: list[str] = []
    paired: dict[int, int] = {}
    stack: list[tuple[object, object, str]] = [(a, b, "kernel")]
    while stack and len(problems) < 20:
        x, y, path = stack.pop()
        if type(x) is not type(y):
            problems.append(f"{path}: {type(x).__name__} vs {type(y).__name__}")
            continue
        if x is None or isinstance(x, (bool, int, float, str, bytes)):
            if x != y:
                problems.append(f"{path}: {x!r:.60} vs {y!r:.60}")
            continue
        if id(x) in paired:
            if paired[id(x)] != id(y):
                problems.append(f"{path}: sharing differs (an object restored twice)")
            continue
        paired[id(x)] = id(y)
        if isinstance(x, (bytearray, array, memoryview, mmap.mmap)):
            if bytes(x) != bytes(y):  # type: ignore[call-overload]
                problems.append(f"{path}: contents differ")
        elif isinstance(x, (list, tuple)):
            assert isinstance(y, (list, tuple))
            if len(x) != len(y):
                problems.append(f"{path}: length {len(x)} vs {len(y)}")
                continue
            if set(map(type, x)) <= _PLAIN and set(map(type, y)) <= _PLAIN:
                # plain values: compared in one go (mem_map-sized lists), types too
                if x != y or list(map(type, x)) != list(map(type, y)):
                    first = next(i for i in range(len(x)) if x[i] != y[i] or
                                 type(x[i]) is not type(y[i]))
                    problems.append(f"{path}[{first}]: {x[first]!r:.60} vs {y[first]!r:.60}")
                continue
            stack.extend((x[i], y[i], f"{path}[{i}]") for i in range(len(x)))
        elif isinstance(x, dict):
            assert isinstance(y, dict)
            if list(x) != list(y):
                problems.append(f"{path}: keys differ")
                continue
            stack.extend((x[k], y[k], f"{path}[{k!r}]") for k in x)
        elif _is_model_object(x):
            cls = type(x).__name__
            ax = _attrs(x)
            ay = _attrs(y)
            if list(ax) != list(ay):
                problems.append(f"{path}: attributes {sorted(ax)} vs {sorted(ay)}")
                continue
            for name in ax:
                if (cls, name) not in IGNORED_ATTRS:
                    stack.append((ax[name], ay[name], f"{path}.{name}"))
        else:
            problems.append(f"{path}: cannot compare a {type(x).__name__}")
    return problems


@pytest.mark.parametrize("cut", [60, 250, 420])
def test_restored_objects_match_attribute_by_attribute(cut: int) -> None:
    s = tiny_session()
    s.run(until_events=cut)
    restored = load_snapshot_bytes(snapshot_bytes(s))
    assert _compare_graphs(s.kernel, restored.kernel) == []
    clock = s.kernel.machine.clock
    again = restored.kernel.machine.clock
    assert [(e.time, e.seq, e.kind, e.a, e.b) for e in clock.pending_events()] == \
        [(e.time, e.seq, e.kind, e.a, e.b) for e in again.pending_events()]
    assert s.kernel.machine.disk.to_state() == restored.kernel.machine.disk.to_state()
    assert save_trace_ring(s.kernel.trace) == save_trace_ring(restored.kernel.trace)


def test_graph_comparison_notices_a_difference() -> None:
    s = tiny_session()
    s.run(until_events=150)
    restored = load_snapshot_bytes(snapshot_bytes(s))
    restored.kernel.mem_map.pages[7].flags ^= 1
    problems = _compare_graphs(s.kernel, restored.kernel)
    assert problems and "pages[7].flags" in problems[0]


# ---- another process ----------------------------------------------------------------------------


def _vmlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "scenarios.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def test_resume_in_another_process_gives_the_same_hash(tmp_path: Path) -> None:
    scenario = tmp_path / "snap-tiny.toml"
    scenario.write_text(TINY_TOML)
    run = _vmlab("run", str(scenario), "--snapshot-at", "logged", "--snapshot-out", "a.vmsnap",
                 "--json", "run.json", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    resumed = _vmlab("resume", "a.vmsnap", "--json", "resume.json", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ran = json.loads((tmp_path / "run.json").read_text())
    went_on = json.loads((tmp_path / "resume.json").read_text())
    assert went_on == ran
    # and the in-process run agrees with both processes
    assert finish(tiny_session()).state_hash == ran["state_hash"]


# ---- the older designs: page lists and pte chains ------------------------------------------------


#: The last event count at which the forked child of the tiny scenario still shares pages
#: through pte chains: 2.6.5's kswapd, which never naps, swaps the shared pages out within
#: two events of the fork.
_CHAINED_UNTIL = {"2.6.5": 8, "2.6.6": 139}


@pytest.mark.parametrize(("profile", "cut"), [("2.6.5", 7), ("2.6.5", 100), ("2.6.5", 250),
                                              ("2.6.6", 30), ("2.6.6", 100), ("2.6.6", 250)])
def test_older_kernels_restore_object_for_object_and_resume_to_the_same_end(
        profile: str, cut: int) -> None:
    """The 2.6.5 page lists and the pte chains (stored, since no walk can re-derive their slot
    order) come back exactly, and the resumed run ends where the uninterrupted one does."""
    from test_snapshot_support import tiny_scenario

    s = Session(tiny_scenario(), kernel=profile)
    s.run(until_events=cut)
    restored = load_snapshot_bytes(snapshot_bytes(s))
    assert _compare_graphs(s.kernel, restored.kernel) == []
    chained = [p for p in s.kernel.mem_map.pages if p.pte_chain is not None]
    assert chained or cut > _CHAINED_UNTIL[profile]  # the child shares pages for a while
    s.run()
    restored.run()
    assert restored.state_hash() == s.state_hash()
    assert restored.metrics() == s.metrics()
