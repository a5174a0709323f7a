"""The kernel core: boot, the scheduler, sleeping, checkpoints and breakpoints."""

from __future__ import annotations

import pytest

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check import check_invariants
from kernelmodel.include.syscall_abi import VL_CHECKPOINT, SYS_nanosleep
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.task import TASK_RUNNING, TASK_STOPPED, TASK_ZOMBIE
from machine.board import Machine, MachineConfig
from machine.isa import OP_COMPUTE, OP_SYSCALL, Insn
from tests.kernelmodel.conftest import boot_kernel, run_until_exit, spawn


def test_boot_starts_kernel_threads_and_reserves_zero_page() -> None:
    k = boot_kernel()
    names = [t.name for t in k.tasks.values()]
    assert "kswapd0" in names
    assert names.count("pdflush") >= 2
    assert k.zero_page.pfn != 0
    assert check_invariants(k) == []
    assert k.all_user_tasks_exited()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("release", "2.6.9", "kernel.release"),
        ("writeback", "lru", "kernel.writeback"),
        ("rmap", "objrmap", "kernel.rmap"),
        ("swappiness", 101, "tunables.swappiness"),
        ("swap_bytes", 4097, "machine.swap"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(field: str, value: object, message: str) -> None:
    cfg = KernelConfig()
    setattr(cfg, field, value)
    machine = Machine(MachineConfig(mem_bytes=16 << 20, disk_bytes=64 << 20))
    with pytest.raises(ValueError) as exc:
        vl_start_kernel(machine, cfg)
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_swap_larger_than_disk_is_refused() -> None:
    machine = Machine(MachineConfig(mem_bytes=16 << 20, disk_bytes=64 << 20))
    with pytest.raises(ValueError, match=r"machine\.swap"):
        vl_start_kernel(machine, KernelConfig(swap_bytes=64 << 20))


def test_round_robin_shares_the_cpu() -> None:
    k = boot_kernel()
    a = spawn(k, "a", [Insn(OP_COMPUTE, 5_000_000)])
    b = spawn(k, "b", [Insn(OP_COMPUTE, 5_000_000)])
    run_until_exit(k)
    ta, tb = k.tasks[a], k.tasks[b]
    assert ta.state == TASK_ZOMBIE and tb.state == TASK_ZOMBIE
    # both ran in 1 ms slices, interleaved: neither finished before the other started
    assert abs(ta.cpu_ns - tb.cpu_ns) < 2 * k.cfg.timeslice_ns
    assert ta.cpu_ns + tb.cpu_ns >= 10_000_000


def test_nanosleep_wakes_after_the_requested_time() -> None:
    k = boot_kernel()
    pid = spawn(
        k,
        "sleeper",
        [
            Insn(OP_SYSCALL, SYS_nanosleep, 50_000_000),
            Insn(OP_SYSCALL, VL_CHECKPOINT, s="woke"),
        ],
    )
    run_until_exit(k)
    name, cp_pid, t = k.checkpoints[0]
    assert (name, cp_pid) == ("woke", pid)
    assert 50_000_000 <= t < 52_000_000


def test_checkpoint_ends_the_slice_so_a_runner_stops_exactly_there() -> None:
    k = boot_kernel()
    spawn(
        k,
        "t",
        [
            Insn(OP_SYSCALL, VL_CHECKPOINT, s="one"),
            Insn(OP_COMPUTE, 100_000),
            Insn(OP_SYSCALL, VL_CHECKPOINT, s="two"),
        ],
    )
    seen = []
    while not k.all_user_tasks_exited():
        before = len(k.checkpoints)
        assert k.machine.step()
        if len(k.checkpoints) > before:
            seen.append(k.checkpoints[-1][0])
            # nothing of the program after the checkpoint ran in the same event
            assert len(k.checkpoints) == before + 1
    assert seen == ["one", "two"]


def test_breakpoint_stops_and_continue_resumes() -> None:
    k = boot_kernel()
    pid = spawn(k, "t", [Insn(OP_COMPUTE, 10_000)])
    task = k.tasks[pid]
    k.breakpoints["demo"] = "t"
    assert k.preempt_point(task, "demo")
    assert task.state == TASK_STOPPED and task.describe_wait() == "stopped at demo"
    assert not k.preempt_point(task, "demo")  # one-shot
    for _ in range(50):
        k.machine.step()
    assert task.state == TASK_STOPPED
    k.continue_task(task)
    assert task.state == TASK_RUNNING
    run_until_exit(k)
    assert task.state == TASK_ZOMBIE


def test_same_seed_same_state_twice() -> None:
    def run() -> dict[str, object]:
        k = boot_kernel(seed=5)
        spawn(k, "a", [Insn(OP_COMPUTE, 3_000_000), Insn(OP_SYSCALL, SYS_nanosleep, 1_000_000)])
        spawn(k, "b", [Insn(OP_COMPUTE, 2_000_000)])
        run_until_exit(k)
        return k.to_state()

    assert run() == run()
