"""Scenario breakpoints and power cuts, and the scripted fsync races.

* the loader's one-line errors for ``break``, ``await``, ``continue`` and ``powercut``;
* a scenario stops pdflush at a named point of mpage_writepages and continues it;
* ``await`` sleeps until the task stops (and restarts correctly across a snapshot);
* a power cut ends the run, also for a session resumed from a snapshot taken after it;
* ``acked_bytes_lost`` and ``fsync_pending`` report what they say, including a loss;
* the three built-in race scripts pass on the default kernel, are deterministic, and resume
  from a snapshot taken while a task is stopped to the same end as the uninterrupted run;
* the known preemption points and kernel-thread names match the model's sources.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from test_snapshot_support import finish

from kernelmodel.kernel.task import TASK_RUNNING, TASK_STOPPED, Task
from kernelmodel.kernel.vl_scenario import (
    ESRCH,
    KTHREAD_NAMES,
    POWER_CUT_CHECKPOINT,
    PREEMPT_POINTS,
    vl_stopped_key,
)
from kernelmodel.mm.page_writeback import WRITEBACK_PREEMPT_POINTS
from scenarios.assembler import assemble
from scenarios.library import load_builtin
from scenarios.loader import ScenarioError, load_text
from scenarios.schema import POWER_CUT, AwaitOp, BreakOp, ContinueOp, KernelSpec, PowerCutOp
from scenarios.session import Session
from scenarios.snapshot import load_snapshot_bytes, snapshot_bytes

ROOT = Path(__file__).resolve().parents[2]
RACES = ("fsync-race-a", "fsync-race-b", "fsync-livelock-d")
POINT = "mpage_writepages:after_writepage"


def _one_task(ops: list[str], extra: str = "") -> str:
    body = ", ".join(f'"{op}"' for op in ops)
    return f'[[tasks]]\nname = "a"\nprogram = [{body}]\n{extra}'


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        load_text(text, source="x.toml")
    message = str(exc.value)
    assert "\n" not in message
    return message


def _task(s: Session, name: str) -> Task:
    return next(t for t in s.kernel.tasks.values() if t.name == name)


# ---- the loader -----------------------------------------------------------------------------

_POINTS = ", ".join(PREEMPT_POINTS)
_AT = "x.toml: tasks[0].program[0]: "

LOADER_ERRORS = [
    (["break pdflush at mpage_writepages:after_clear_dirt"],
     _AT + 'break POINT: unknown preemption point "mpage_writepages:after_clear_dirt" (did '
     f'you mean "mpage_writepages:after_clear_dirty"? expected one of: {_POINTS})'),
    (["break pdflush at nowhere"],
     _AT + f'break POINT: unknown preemption point "nowhere" (expected one of: {_POINTS})'),
    (["await pdflush at nowhere"],
     _AT + f'await POINT: unknown preemption point "nowhere" (expected one of: {_POINTS})'),
    (["break pdflush"], _AT + 'break: missing "at" (usage: break TASK at POINT)'),
    (["break pdflush in fsync:after_down"],
     _AT + 'break: expected "at" after the task, got "in" (usage: break TASK at POINT)'),
    (["break pdflush at fsync:after_down now"],
     _AT + 'break: unexpected "now" (usage: break TASK at POINT)'),
    (["break 9x at fsync:after_down"],
     _AT + 'break TASK: "9x" is not a name (a letter or "_", then letters, digits, "_", ".", '
     '"-")'),
    (["await pdflush at"], _AT + "await: missing POINT (usage: await TASK [at POINT])"),
    (["await pdflush now"],
     _AT + 'await: expected "at" after the task, got "now" (usage: await TASK [at POINT])'),
    (["continue"], _AT + "continue: missing TASK (usage: continue TASK)"),
    (["continue pdflush now"], _AT + 'continue: unexpected "now" (usage: continue TASK)'),
    (["powercut now"], _AT + 'powercut: unexpected "now" (usage: powercut)'),
    (["brake pdflush at fsync:after_down"],
     _AT + 'unknown op "brake" (did you mean "break"? expected one of: mmap, munmap, mprotect, '
     "touch, replay, store, load, open, close, read, write, fsync, fdatasync, sync, truncate, "
     "unlink, msync, fadvise, fork, wait, exit, sleep, compute, loop, end, checkpoint, verify, "
     "break, await, continue, powercut)"),
    (["break pdflsh at fsync:after_down"],
     _AT + 'break: no task named "pdflsh" (did you mean "pdflush"? expected a task of '
     "[[tasks]], a forked program or a kernel thread: a, pdflush, kswapd0)"),
    (["continue nobody"],
     _AT + 'continue: no task named "nobody" (expected a task of [[tasks]], a forked program '
     "or a kernel thread: a, pdflush, kswapd0)"),
    (["await a"], _AT + 'await: task "a" runs this program and would wait for itself'),
    (["checkpoint power_cut"],
     _AT + 'checkpoint NAME: "power_cut" is recorded by "powercut"; choose another name'),
]


@pytest.mark.parametrize(("ops", "message"), LOADER_ERRORS)
def test_loader_errors(ops: list[str], message: str) -> None:
    assert _error(_one_task(ops)) == message


def test_loader_errors_in_expectations() -> None:
    at_cut = '[[expect]]\nat = "power_cut"\ncheck = "acked_bytes_lost == 0"\n'
    assert _error(_one_task(["sync"], at_cut)) == (
        'x.toml: expect[0].at: no checkpoint named "power_cut" (use "end" or a checkpoint a '
        "program records)")
    typo = '[[expect]]\ncheck = "acked_bytes_lst == 0 and fsync_pendin == 0"\n'
    assert _error(_one_task(["sync"], typo)) == (
        'x.toml: expect[0].check: unknown metric "acked_bytes_lst" (did you mean '
        '"acked_bytes_lost"?)')
    s = load_text(_one_task(["powercut"], at_cut), source="x.toml")
    assert s.checkpoint_names() == [POWER_CUT] and s.expectations[0].at == POWER_CUT


def test_loader_accepts_every_form_and_names_forked_children_and_kthreads() -> None:
    text = """
[[tasks]]
name = "boss"
program = [
  "break child at fsync:after_down",
  "break kswapd0 at sync_sb_inodes:before_writeback",
  "fork child",
  "await child at fsync:after_down",
  "await pdflush",
  "continue child",
  "powercut",
]

[programs]
child = ["open f create", "fsync f"]
"""
    s = load_text(text, source="x.toml")
    ops = s.programs["boss"].ops
    assert ops[0] == BreakOp(text=ops[0].text, task="child", point="fsync:after_down")
    assert isinstance(ops[3], AwaitOp) and ops[3].point == "fsync:after_down"
    assert isinstance(ops[4], AwaitOp) and ops[4].task == "pdflush" and ops[4].point == ""
    assert isinstance(ops[5], ContinueOp) and ops[5].task == "child"
    assert isinstance(ops[6], PowerCutOp)
    insns = assemble(s).programs[-1].insns
    assert [i.s for i in insns[:2]] == ["child fsync:after_down",
                                        "kswapd0 sync_sb_inodes:before_writeback"]
    assert [i.s for i in insns[3:7]] == ["child fsync:after_down", "pdflush", "child", ""]


def test_point_and_thread_names_match_the_model() -> None:
    """PREEMPT_POINTS lists exactly the points kernelmodel stops at; KTHREAD_NAMES the
    kernel threads a booted kernel runs."""
    used: set[str] = set()
    for path in sorted((ROOT / "kernelmodel").rglob("*.py")):
        used |= set(re.findall(r'preempt_point\(\s*task,\s*"([^"]+)"', path.read_text()))
    assert used == set(PREEMPT_POINTS)
    assert set(WRITEBACK_PREEMPT_POINTS) <= set(PREEMPT_POINTS)
    s = Session(load_text(_one_task(["sync"]), source="x.toml"))
    threads = {t.name for t in s.kernel.tasks.values() if t.is_kthread()}
    assert threads == set(KTHREAD_NAMES)


# ---- stopping and continuing pdflush --------------------------------------------------------

STOP_TOML = f"""
name = "stop-pdflush"
seed = 3
duration = "5s"

[machine]
memory = "16MiB"
disk = "64MiB"
swap = "8MiB"

[tunables]
dirty_background_ratio = 1

[[files]]
path = "f"
size = "1MiB"
content = "pattern"

[[tasks]]
name = "debugger"
program = [
  "break pdflush at {POINT}",
  "await pdflush at {POINT}",
  "checkpoint stopped",
  "sleep 20ms",
  "continue pdflush",
  "checkpoint continued",
  "continue pdflush",
  "checkpoint again",
]

[[tasks]]
name = "writer"
program = ["open f", "write f 0 1MiB", "await pdflush", "fsync f", "checkpoint synced"]

[[expect]]
at = "stopped"
check = "nr_writeback > 0 and fsync_calls == 0"

[[expect]]
check = "nr_writeback == 0 and fsync_done == 1 and fsync_pending == 0 and data_verified"
"""


def _stop_session() -> Session:
    return Session(load_text(STOP_TOML, source="stop-pdflush.toml"))


def test_a_scenario_stops_pdflush_at_a_point_and_continues_it() -> None:
    s = _stop_session()
    assert s.run(until_checkpoint="stopped") == "checkpoint"
    k = s.kernel
    stopped = [t for t in k.tasks.values() if t.state == TASK_STOPPED]
    assert [t.name for t in stopped] == ["pdflush"]
    pd = stopped[0]
    assert pd.stopped_at == POINT and pd.describe_wait() == f"stopped at {POINT}"
    assert k.breakpoints == {}  # one-shot
    assert pd.pid not in k.runqueue
    # nothing moves pdflush while it is stopped
    pd_cpu = pd.cpu_ns
    s.run(until_ns=s.sim_time_ns + 10_000_000)
    assert pd.state == TASK_STOPPED and pd.cpu_ns == pd_cpu
    assert s.run(until_checkpoint="continued") == "checkpoint"
    assert pd.state != TASK_STOPPED and pd.stopped_at == ""
    assert s.run(until_checkpoint="again") == "checkpoint"
    debugger = _task(s, "debugger")
    assert debugger.ctx is not None and debugger.ctx.retval == 0  # the checkpoint's
    assert s.run() == "end" and s.end_reason == "exited"
    assert all(r.ok for r in s.evaluate_expectations()), s.evaluate_expectations()
    texts = [e.s for e in k.trace.since(0) if e.kind == "task"]
    assert f"break pdflush at {POINT}" in texts
    assert f"stopped at {POINT}" in texts and f"continue from {POINT}" in texts


def test_continue_of_a_task_that_is_not_stopped_returns_esrch() -> None:
    s = Session(load_text(_one_task(["continue pdflush", "sleep 1ms"]), source="x.toml"))
    a = _task(s, "a")

    def after_continue(session: Session) -> bool:
        return a.ctx is not None and a.ctx.pc == 1

    assert s.run(predicate=after_continue) == "predicate"
    assert a.ctx is not None and a.ctx.retval == -ESRCH
    assert all(t.state != TASK_STOPPED for t in s.kernel.tasks.values())


def test_await_sleeps_until_the_task_stops() -> None:
    s = _stop_session()
    debugger = _task(s, "debugger")

    def waiting(session: Session) -> bool:
        return debugger.wait_key == vl_stopped_key("pdflush")

    assert s.run(predicate=waiting) == "predicate"
    assert debugger.state != TASK_RUNNING
    assert debugger.kstack == []  # a restarting call: nothing on the kernel stack
    assert s.kernel.waitqueues[vl_stopped_key("pdflush")] == [debugger.pid]
    s.run(until_checkpoint="stopped")
    assert vl_stopped_key("pdflush") not in s.kernel.waitqueues


ELSEWHERE_TOML = STOP_TOML[:STOP_TOML.index("[[tasks]]")] + f"""
[[tasks]]
name = "debugger"
program = [
  "break pdflush at {POINT}",
  "await pdflush at mpage_writepages:after_clear_dirty",
  "checkpoint stopped",
]

[[tasks]]
name = "helper"
program = ["open f", "write f 0 1MiB", "await pdflush at {POINT}", "checkpoint seen",
           "continue pdflush"]
"""


def test_await_for_another_point_sleeps_again_after_a_stop_elsewhere() -> None:
    s = Session(load_text(ELSEWHERE_TOML, source="x.toml"))
    assert s.run(until_checkpoint="seen") == "checkpoint"
    debugger = _task(s, "debugger")
    assert debugger.ctx is not None and debugger.ctx.pc == 1  # still at its await
    assert debugger.wait_key == vl_stopped_key("pdflush")  # woken by the stop, asleep again
    assert s.run() == "end" and s.end_reason in ("duration", "idle")
    assert "stopped" not in [c.name for c in s.checkpoints]
    assert debugger.wait_key == vl_stopped_key("pdflush")


def test_snapshots_while_waiting_and_while_stopped_resume_to_the_same_end() -> None:
    reference = finish(_stop_session())
    s = _stop_session()
    debugger = _task(s, "debugger")
    s.run(predicate=lambda _s: debugger.wait_key != "")
    waiting = snapshot_bytes(s)
    s.run(until_checkpoint="stopped")
    stopped = snapshot_bytes(s)
    assert load_snapshot_bytes(waiting).kernel.breakpoints == {POINT: "pdflush"}
    for data in (waiting, stopped):
        restored = load_snapshot_bytes(data)
        assert snapshot_bytes(restored) == data
        assert finish(restored) == reference
    restored = load_snapshot_bytes(stopped)
    pd = [t for t in restored.kernel.tasks.values() if t.state == TASK_STOPPED]
    assert [(t.name, t.stopped_at) for t in pd] == [("pdflush", POINT)]


# ---- power cuts and the durability metrics --------------------------------------------------


def test_a_power_cut_ends_the_run_and_a_resumed_session_stays_off() -> None:
    s = Session(load_builtin("fsync-race-a"))
    assert s.run() == "end" and s.end_reason == "power_cut"
    assert s.checkpoints[-1].name == POWER_CUT_CHECKPOINT == POWER_CUT
    assert s.powered_off
    assert s.kernel.machine.disk.queue_depth == 0
    events = s.events
    assert s.step(10) == 0 and s.run() == "end" and s.events == events
    restored = load_snapshot_bytes(snapshot_bytes(s))
    assert restored.powered_off and restored.end_reason == "power_cut"
    assert restored.run() == "end" and restored.events == events
    assert finish(restored) == finish(s)


def test_pending_fsync_and_acked_bytes_while_race_a_runs() -> None:
    s = Session(load_builtin("fsync-race-a"))
    s.run(until_checkpoint="stopped")
    s.run(until_ns=s.sim_time_ns + 500_000_000)
    writer = _task(s, "writer")
    pd = next(t for t in s.kernel.tasks.values() if t.state == TASK_STOPPED)
    assert pd.name == "pdflush"
    assert writer.wait_key.endswith(" locked")  # fsync sleeps in lock_page(page 0)
    m = s.metrics()
    assert m["fsync_pending"] == 1 and m["fsync_done"] == 0 and m["acked_bytes_lost"] == 0


def test_acked_bytes_lost_reports_a_loss() -> None:
    """Control: drop page 0's DIRTY tag while pdflush holds it (the hole 2.6.6 closed): fsync
    then returns without waiting and the power cut loses the page it acknowledged."""
    from kernelmodel.lib.radix_tree import radix_tree_tag_clear
    from kernelmodel.mm.filemap import PAGECACHE_TAG_DIRTY

    s = Session(load_builtin("fsync-race-a"))
    s.run(until_checkpoint="stopped")
    k = s.kernel
    inode = k.sb.s_inodes[k.sb.s_names["data"]]
    radix_tree_tag_clear(inode.i_mapping.page_tree, 0, PAGECACHE_TAG_DIRTY)
    assert s.run() == "end" and s.end_reason == "power_cut"
    m = s.metrics()
    assert 4000 < m["acked_bytes_lost"] <= 4096
    assert m["fsync_latency_ns"] < 100_000_000
    results = {r.name: r for r in s.evaluate_expectations()}
    lost = results["nothing fsync acknowledged is lost at the power cut"]
    assert not lost.ok and "inode" in lost.detail and "page 0" in lost.detail


# ---- the built-in race scripts --------------------------------------------------------------


@pytest.mark.parametrize("name", RACES)
def test_race_builtin_passes_on_the_default_kernel(name: str) -> None:
    s = Session(load_builtin(name))
    assert s.kernel_spec == KernelSpec()
    assert s.run() == "end"
    assert s.end_reason == ("duration" if name == "fsync-livelock-d" else "power_cut")
    results = s.evaluate_expectations()
    assert results and all(r.ok for r in results), results
    m = s.metrics()
    assert m["acked_bytes_lost"] == 0 and m["fsync_pending"] == 0 and m["fsync_done"] == 1


@pytest.mark.parametrize("name", RACES)
def test_race_scripts_are_deterministic(name: str) -> None:
    a = finish(Session(load_builtin(name)))
    b = finish(Session(load_builtin(name)))
    assert a == b


@pytest.mark.parametrize("name", ("fsync-race-a", "fsync-race-b"))
def test_race_scripts_hold_for_other_seeds(name: str) -> None:
    for seed in (2, 99):
        s = Session(load_builtin(name), seed=seed)
        s.run()
        assert all(r.ok for r in s.evaluate_expectations()), (seed, s.evaluate_expectations())


def test_race_a_snapshot_while_pdflush_is_stopped_resumes_to_the_same_end() -> None:
    reference = finish(Session(load_builtin("fsync-race-a")))
    s = Session(load_builtin("fsync-race-a"))
    s.run(until_checkpoint="stopped")
    s.run(until_ns=s.sim_time_ns + 300_000_000)  # the writer now sleeps in fsync too
    restored = load_snapshot_bytes(snapshot_bytes(s))
    assert restored.state_hash() == s.state_hash()
    assert finish(restored) == reference


# ---- 2.6.5's page lists ---------------------------------------------------------------------


def _on_lists(name: str) -> Session:
    scenario = load_builtin(name)
    kernel = dataclasses.replace(scenario.kernel, writeback="lists")
    s = Session(dataclasses.replace(scenario, kernel=kernel))
    s.run()
    return s


@pytest.mark.parametrize("name", ("fsync-race-a", "fsync-race-b"))
def test_lists_lose_acknowledged_data_in_races_a_and_b(name: str) -> None:
    s = _on_lists(name)
    assert s.end_reason == "power_cut"
    assert s.metrics()["acked_bytes_lost"] > 0


def test_lists_fsync_does_not_return_in_livelock_d() -> None:
    s = Session(load_builtin("fsync-livelock-d"), kernel="2.6.5")
    s.run()
    m = s.metrics()
    assert s.end_reason == "duration"
    assert m["fsync_pending"] == 1
    assert m["fsync_done"] == 0
    tags = Session(load_builtin("fsync-livelock-d"), kernel="2.6.6")
    tags.run()
    assert tags.metrics()["fsync_pending"] == 0
    assert tags.metrics()["fsync_done"] == 1
    assert all(r.ok for r in tags.evaluate_expectations())
    # the pending call's sweeps count too (its fdatawrite: 2.6.5's fsync then hangs in
    # ->fsync's own wait on locked_pages, which the metric does not cover)
    assert m["fsync_pages_visited"] >= 1
    assert tags.metrics()["fsync_pages_visited"] <= 128


# ---- shared-mapping stores and fsync --------------------------------------------------------

_MMAP_FSYNC = """
name = "mmap-fsync"
seed = 3
duration = "5s"

[machine]
memory = "16MiB"

[[files]]
path = "data"
size = "64KiB"
content = "pattern"

[[tasks]]
name = "app"
program = [
  "open data",
  "mmap 0x4000_0000 64KiB data shared rw",
  "store 0x4000_0000 0x11111111",
  {sync}
  "fsync data",
  "checkpoint synced",
  "powercut",
]

[[expect]]
check = "data_verified and invariants_ok"
"""


def test_fsync_acknowledges_shared_mapping_stores_only_after_msync() -> None:
    """2.6.6's fsync does not look at ptes: a store through a shared mapping is not written
    (nor promised) until msync moves the pte's dirty bit to the page."""
    plain = Session(load_text(_MMAP_FSYNC.replace("{sync}", ""), source="m.toml"))
    assert plain.run() == "end" and plain.end_reason == "power_cut"
    f = next(iter(plain.kernel.oracle.files.values()))
    assert 0 in f.mmap_pending and 0 not in f.acked  # fsync did not promise the page
    assert plain.metrics()["acked_bytes_lost"] == 0
    synced = Session(load_text(_MMAP_FSYNC.replace("{sync}", '"msync 0x4000_0000 4KiB sync",'),
                               source="m.toml"))
    assert synced.run() == "end" and synced.end_reason == "power_cut"
    g = next(iter(synced.kernel.oracle.files.values()))
    assert not g.mmap_pending and 0 in g.acked  # promised, and on the disk
    assert synced.metrics()["acked_bytes_lost"] == 0
    assert all(r.ok for r in synced.evaluate_expectations())
