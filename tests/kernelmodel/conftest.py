"""Shared fixtures: booting small kernels and running programs on them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kernelmodel.boot import vl_start_kernel
from kernelmodel.check.check import check_invariants
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from machine.board import Machine, MachineConfig
from machine.isa import Insn


def boot_kernel(
    mem_mib: int = 16, disk_mib: int = 256, swap_mib: int = 32, seed: int = 1, **cfg: object
) -> Kernel:
    """A booted kernel on a small machine (memory, disk and swap in MiB)."""
    machine = Machine(MachineConfig(mem_bytes=mem_mib << 20, disk_bytes=disk_mib << 20))
    kcfg = KernelConfig(swap_bytes=swap_mib << 20, seed=seed)
    for name, value in cfg.items():
        setattr(kcfg, name, value)
    return vl_start_kernel(machine, kcfg)


def run_until_exit(k: Kernel, max_events: int = 500_000, check: bool = False) -> int:
    """Step events until every user task has exited; returns the events run.

    With ``check`` the invariant checker runs after every event and must stay silent.
    """
    n = 0
    while not k.all_user_tasks_exited():
        assert n < max_events, "run_until_exit: event budget exhausted"
        assert k.machine.step(), "run_until_exit: no events left but tasks remain"
        n += 1
        if check:
            problems = check_invariants(k)
            assert problems == [], problems[:5]
    return n


@pytest.fixture
def booted() -> Callable[..., Kernel]:
    return boot_kernel


def spawn(k: Kernel, name: str, prog: list[Insn]) -> int:
    return k.spawn(name, k.add_program(name, prog))
