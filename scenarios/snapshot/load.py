"""Loading a snapshot: a checked map (scenarios/snapshot/read.py) restored into a Session.

The kernel is rebuilt from the state (``kernelmodel.state.restore``), hashed again (it must give
the stored hash) and, unless the caller reports them itself (``vmlab snapshot report``),
passed through the invariant checker and the data oracle before anything runs; then the
Session takes the scenario, the runner's records, the story and the counters over time.
Every failure is one ``SnapshotError`` line (``SnapshotContradiction`` for a state that
restores but contradicts itself).

Invariants:
    * ``load_snapshot(p)`` then ``save_snapshot`` writes the bytes of ``p`` again (with
      ``compact=False`` for a file written full);
    * a compact and a full file of one session load into the same state (same hash);
    * running a loaded session to the end gives the state hash and metrics the uninterrupted
      run gives.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from scenarios.gc_pause import collector_paused
from scenarios.one_line import one_line
from scenarios.snapshot.errors import SnapshotContradiction, SnapshotError, exc_line
from scenarios.snapshot.fields import field_dict, field_int, field_str
from scenarios.snapshot.fileformat import read_file
from scenarios.snapshot.read import Checked, kernel_spec_of, read_checked
from scenarios.state_codec import StateWriter

if TYPE_CHECKING:
    from scenarios.series import CounterSeries
    from scenarios.session import Session


def _restore_kernel(state: dict[str, object], digest: str, where: str,
                    run_checks: bool = True) -> object:
    """Restore the kernel, hash it again, and run the invariant checker and the oracle
    (``run_checks=False``: the caller runs and reports them itself).

    The cyclic garbage collector is off meanwhile, as in ``_build``: rebuilding allocates
    millions of objects and would otherwise trigger full collections over all of them.
    """
    with collector_paused():
        return _restore_kernel_checked(state, digest, where, run_checks)


def _restore_kernel_checked(state: dict[str, object], digest: str, where: str,
                            run_checks: bool = True) -> object:
    """``_restore_kernel`` with the collector already off."""
    from kernelmodel.state.restore import vl_kernel_from_state, vl_restore_problems

    try:
        k = vl_kernel_from_state(state)
    except Exception as exc:  # any failure to rebuild is a bad snapshot
        raise SnapshotError(f"{where}: the state does not restore ({exc_line(exc)})") from None
    w = StateWriter(hashing=True, encoding=False, defer_hash=True)
    try:
        w.value(k.to_state(borrow=True))
    except Exception as exc:
        raise SnapshotError(f"{where}: the restored state is unusable ({exc_line(exc)})") \
            from None
    # SHA-256 of the restored state runs on a second thread while the checks run here: the
    # checks only read (RAM and the disk, which the state walk lent, stay as they are).
    hasher = threading.Thread(target=w.hash_deferred, name="snapshot-hash")
    hasher.start()
    problems: list[str] = []
    failure: str | None = None
    try:
        if run_checks:
            problems = vl_restore_problems(k)
    except Exception as exc:
        failure = exc_line(exc)
    finally:
        hasher.join()
    again = w.digest()
    if again != digest:
        raise SnapshotError(f"{where}: the restored kernel differs from the saved state "
                            f"(hash {again[:16]}, saved {digest[:16]})")
    if failure is not None:
        raise SnapshotError(f"{where}: the restored kernel cannot be checked ({failure})")
    if problems:
        raise SnapshotContradiction(f"{where}: the restored kernel fails {len(problems)} "
                                    f"check(s); first: {one_line(problems[0])}")
    return k


def session_from_snapshot(checked: Checked, where: str, run_checks: bool = True) -> Session:
    """Rebuild a runnable Session from a checked snapshot (restores and checks the kernel;
    ``run_checks=False`` leaves the invariant checker and the data oracle to the caller, who
    reports what they say rather than refusing the file: ``vmlab snapshot report``).

    Raises:
        SnapshotError: one line naming what is wrong.
    """
    # the model and the session are imported when a snapshot is loaded, not when the
    # command line that might load one starts
    from kernelmodel.kernel.kernel import Kernel
    from scenarios.host_memory import HostMemoryError, check_host_memory
    from scenarios.schema import KernelSpec
    from scenarios.session import Session, SessionError

    doc = checked.doc
    scn_section = doc["scenario"]
    sess_section = doc["session"]
    state = doc["state"]
    assert isinstance(scn_section, dict) and isinstance(sess_section, dict)
    assert isinstance(state, dict)
    scenario = checked.scenario
    spec = kernel_spec_of(scn_section)
    mine = {"profile": scenario.kernel.profile, "writeback": scenario.kernel.writeback,
            "rmap": scenario.kernel.rmap, "vmscan": scenario.kernel.vmscan,
            "swapin": scenario.kernel.swapin}
    override = None if spec == mine else KernelSpec(**spec)
    try:
        check_host_memory(scenario.machine)
    except HostMemoryError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    k = _restore_kernel(state, str(doc["state_hash"]), where, run_checks)
    assert isinstance(k, Kernel)
    try:
        session = Session(scenario, seed=field_int(scn_section, "seed", "scenario"),
                          kernel=override, booted=k)
    except SessionError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
    _check_session_agrees(session, spec, where)
    session.checkpoints = list(checked.records)
    session.restore_story(checked.story)
    session.end_reason = field_str(sess_section, "end_reason", "session")
    session.set_series(_series(sess_section, session.sim_time_ns, where))
    behaviour = doc["behaviour_version"]
    assert isinstance(behaviour, int)
    session.behaviour_version = behaviour
    return session


def _series(section: dict[str, object], now_ns: int, where: str) -> CounterSeries:
    """The session's counters over time, checked (``CounterSeries.from_section``)."""
    from scenarios.series import CounterSeries, SeriesError

    try:
        return CounterSeries.from_section(field_dict(section, "series", "session"), now_ns)
    except SeriesError as exc:
        raise SnapshotError(f"{where}: damaged (session section: {exc})") from None


def _check_session_agrees(session: Session, spec: dict[str, str], where: str) -> None:
    """The stored kernel profile and seed must be the restored kernel's."""
    k = session.kernel
    ks = session.kernel_spec
    if spec != {"profile": ks.profile, "writeback": ks.writeback, "rmap": ks.rmap,
                "vmscan": ks.vmscan, "swapin": ks.swapin}:
        raise SnapshotError(f"{where}: the kernel profile does not resolve as stored")
    cfg = k.cfg
    if (cfg.release, cfg.writeback, cfg.rmap, cfg.vmscan, cfg.swapin, cfg.seed) != \
            (ks.profile, ks.writeback, ks.rmap, ks.vmscan, ks.swapin, session.seed):
        raise SnapshotError(f"{where}: the scenario's kernel and seed disagree with the state")


def load_snapshot_bytes(data: bytes, where: str = "<memory>") -> Session:
    """``load_snapshot`` from bytes."""
    return session_from_snapshot(read_checked(data, where, verify_hash=False), where)


def load_snapshot(path: str | os.PathLike[str]) -> Session:
    """Read a snapshot file and restore the session it holds, ready to run on.

    Raises:
        SnapshotContradiction: the state restores but contradicts itself (the invariant
            checker with its struct page and filesystem field checks, the data oracle or the
            durable-data check); one line naming the first contradiction.
        SnapshotError: one line naming what is wrong (unreadable, damaged, newer format,
            inconsistent state).
    """
    where = os.path.basename(os.fspath(path))
    near = os.path.dirname(os.path.abspath(os.fspath(path)))
    return session_from_snapshot(read_checked(read_file(path), where, verify_hash=False,
                                               near=near), where)

