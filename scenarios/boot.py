"""Booting a scenario: the machine and kernel configurations it asks for, then the kernel
with its files, programs and tasks, as ``Session`` does before the first event.

A restored kernel (a snapshot, a checkpoint of the timeline) is not booted again; it only
gets its replay traces back (``attach_traces``).
"""

from __future__ import annotations

from kernelmodel.boot import vl_start_kernel
from kernelmodel.include.bug import KernelBug
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from machine.board import Machine, MachineConfig
from machine.isa import OP_REPLAY
from scenarios.assembler import Assembly, derive_seed
from scenarios.gc_pause import collector_paused
from scenarios.host_memory import HostMemoryError, check_host_memory
from scenarios.schema import KernelSpec, Scenario
from scenarios.session_types import SessionError


def machine_config(scenario: Scenario) -> MachineConfig:
    """The machine ``scenario`` describes, validated (``SessionError`` otherwise)."""
    m = scenario.machine
    cfg = MachineConfig(mem_bytes=m.memory, disk_bytes=m.disk, tlb_entries=m.tlb_entries,
                        elevator=m.elevator)
    try:
        cfg.validate()
    except ValueError as exc:
        raise SessionError(f"machine: {exc}") from None
    return cfg


def kernel_config(scenario: Scenario, spec: KernelSpec, seed: int) -> KernelConfig:
    """The kernel configuration of ``scenario`` run as ``spec`` with ``seed``, validated."""
    t = scenario.tunables
    cfg = KernelConfig(
        release=spec.profile, writeback=spec.writeback, rmap=spec.rmap, vmscan=spec.vmscan,
        swapin=spec.swapin,
        swap_bytes=scenario.machine.swap, seed=seed,
        dirty_background_ratio=t.dirty_background_ratio, dirty_ratio=t.dirty_ratio,
        dirty_writeback_centisecs=t.dirty_writeback_centisecs,
        dirty_expire_centisecs=t.dirty_expire_centisecs, swappiness=t.swappiness,
    )
    try:
        cfg.validate()
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    return cfg


def boot(scenario: Scenario, spec: KernelSpec, seed: int, assembly: Assembly) -> Kernel:
    """Boot; a kernel BUG while booting (the scenario asks for more than the machine
    gives) is a ``SessionError`` of one line, as bad input is."""
    try:
        return _boot_kernel(scenario, spec, seed, assembly)
    except KernelBug as exc:
        raise SessionError(f"kernel BUG while booting: {exc}") from None


def _boot_kernel(scenario: Scenario, spec: KernelSpec, seed: int,
                 assembly: Assembly) -> Kernel:
    machine_cfg = machine_config(scenario)
    try:
        check_host_memory(scenario.machine)
    except HostMemoryError as exc:
        raise SessionError(str(exc)) from None
    try:
        with collector_paused():
            k = vl_start_kernel(Machine(machine_cfg), kernel_config(scenario, spec, seed))
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    for f in scenario.files:
        file_seed = f.seed if f.seed is not None else derive_seed(seed, "file", f.path)
        k.create_file(f.path, f.size, f.content, file_seed)
    for path, size in assembly.files:
        if path in {f.path for f in scenario.files}:
            raise SessionError(f"files: {path} is the name of a replayed program's text")
        try:
            k.create_file(path, size, "pattern", derive_seed(seed, "file", path))
        except ValueError as exc:
            raise SessionError(f"replay: {exc}") from None
    for index, prog in enumerate(assembly.programs):
        got = k.add_program(prog.name, prog.insns)
        if got != index:
            raise RuntimeError(f"Kernel.add_program gave id {got} to program #{index} "
                               f"({prog.name}); ids must follow the order of addition")
    for name, prog_id in assembly.tasks:
        k.spawn(name, prog_id)
    return k


def attach_traces(kernel: Kernel, assembly: Assembly) -> None:
    """Give a restored kernel's replay instructions their traces (a snapshot holds only
    each trace's checksum, in the instruction; the assembly loaded the files)."""
    programs = kernel.programs
    for index, prog in enumerate(assembly.programs):
        for insn, live in zip(prog.insns, programs[index], strict=False):
            if insn.op == OP_REPLAY and live.op == OP_REPLAY:
                if live.s != insn.s:
                    raise SessionError(f"replay: the trace of program {prog.program} is "
                                       f"not the one the state replays")
                live.trace = insn.trace
