"""Assembling a scenario: its checked ops (scenarios/ops.py) into the ``Insn`` lists the
kernel runs, following ``kernelmodel.include.syscall_abi`` and ``machine.isa``: touch, store, load,
loop/end and compute are CPU instructions, everything else is an ``OP_SYSCALL``.

Determinism: random offsets and write payload seeds are drawn from ``derive_seed(scenario
seed, owner, program, op index, ...)``, where the owner is the task that runs the program (or
the program itself when it is a fork target). The same scenario and seed always assemble to
the same instructions, and two tasks running one program still write different bytes.

Invariants of an ``Assembly``:
    * ``programs[i]`` is meant to get program id ``i`` from ``Kernel.add_program`` (added in
      order); ``fork`` instructions carry those indices;
    * every ``OP_LOOP`` at index i has ``b`` = the index of its ``OP_ENDLOOP``, whose ``a`` = i.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from kernelmodel.include import syscall_abi as abi
from kernelmodel.kernel.vl_scenario import VL_AWAIT_STOPPED, VL_BREAK, VL_CONTINUE, VL_POWER_CUT
from kernelmodel.lib.rng import Rng
from machine.i386 import PAGE_SIZE
from machine.isa import (
    OP_COMPUTE,
    OP_ENDLOOP,
    OP_LOAD,
    OP_LOOP,
    OP_REPLAY,
    OP_STORE,
    OP_SYSCALL,
    OP_TOUCH,
    TOUCH_WRITE,
    Insn,
)
from scenarios.ops import FADVISE_ADVICE
from scenarios.schema import (
    POS,
    AwaitOp,
    BreakOp,
    CheckpointOp,
    CloseOp,
    ComputeOp,
    ContinueOp,
    EndOp,
    ExitOp,
    FadviseOp,
    ForkOp,
    FsyncOp,
    LoadOp,
    LoopOp,
    MmapOp,
    MprotectOp,
    MsyncOp,
    MunmapOp,
    Op,
    OpenOp,
    PowerCutOp,
    Program,
    ReadOp,
    ReplayOp,
    Scenario,
    SleepOp,
    StoreOp,
    SyncOp,
    TouchOp,
    TruncateOp,
    UnlinkOp,
    VerifyOp,
    WaitOp,
    WriteOp,
)

if TYPE_CHECKING:
    from scenarios.trace.library import LoadedTrace


_SEED_MASK: Final = (1 << 63) - 1


@dataclass(frozen=True)
class AssembledProgram:
    """One program as the kernel receives it."""

    name: str
    """The name given to ``Kernel.add_program``."""
    program: str
    """The scenario program it was assembled from."""
    owner: str
    """The task whose seeds it uses, or the program's own name for a fork target."""
    insns: list[Insn]


@dataclass(frozen=True)
class Assembly:
    """Every program to load (index = expected program id) and the tasks to spawn."""

    programs: list[AssembledProgram]
    tasks: list[tuple[str, int]]
    files: list[tuple[str, int]] = field(default_factory=list)
    """Files the programs need on the disk at boot besides ``[[files]]`` (path, size): the
    text of replayed programs."""


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed that depends only on ``seed`` and ``parts`` (stable across runs)."""
    text = ":".join([str(seed), *(str(p) for p in parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _SEED_MASK


def _sys(nr: int, b: int = 0, c: int = 0, d: int = 0, s: str = "") -> Insn:
    return Insn(OP_SYSCALL, nr, b, c, d, s)


def _mmap_insn(op: MmapOp) -> Insn:
    prot = abi.PROT_READ | (abi.PROT_WRITE if op.writable else 0)
    flags = abi.MAP_FIXED | (abi.MAP_SHARED if op.shared else abi.MAP_PRIVATE)
    if not op.path:
        flags |= abi.MAP_ANONYMOUS
    d = abi.vl_pack_mmap(prot, flags, op.offset // PAGE_SIZE)
    return _sys(abi.SYS_mmap2, op.addr, op.length, d, op.path)


def _open_insn(op: OpenOp) -> Insn:
    flags = abi.O_RDWR | (abi.O_CREAT if op.create else 0) | (abi.O_TRUNC if op.trunc else 0)
    return _sys(abi.SYS_open, flags, s=op.path)


def _simple_insn(op: Op, fork_ids: Mapping[str, int]) -> Insn | None:
    """The instruction of an op that assembles to exactly one, independent of position."""
    if isinstance(op, MmapOp):
        return _mmap_insn(op)
    if isinstance(op, MunmapOp):
        return _sys(abi.SYS_munmap, op.addr, op.length)
    if isinstance(op, MprotectOp):
        return _sys(abi.SYS_mprotect, op.addr, op.length, op.prot)
    if isinstance(op, TouchOp):
        return Insn(OP_TOUCH, op.addr, op.length, op.stride, TOUCH_WRITE if op.write else 0)
    if isinstance(op, StoreOp):
        return Insn(OP_STORE, op.addr, op.value)
    if isinstance(op, LoadOp):
        expect = op.expect is not None
        return Insn(OP_LOAD, op.addr, op.expect or 0, 1 if expect else 0)
    if isinstance(op, OpenOp):
        return _open_insn(op)
    if isinstance(op, CloseOp):
        return _sys(abi.SYS_close, s=op.path)
    if isinstance(op, FsyncOp):
        return _sys(abi.SYS_fdatasync if op.datasync else abi.SYS_fsync, s=op.path)
    if isinstance(op, SyncOp):
        return _sys(abi.SYS_sync)
    if isinstance(op, TruncateOp):
        return _sys(abi.SYS_ftruncate, op.length, s=op.path)
    if isinstance(op, UnlinkOp):
        return _sys(abi.SYS_unlink, s=op.path)
    if isinstance(op, MsyncOp):
        return _sys(abi.SYS_msync, op.addr, op.length, abi.MS_SYNC if op.sync else abi.MS_ASYNC)
    if isinstance(op, FadviseOp):
        return _sys(abi.SYS_fadvise64, 0, 0, FADVISE_ADVICE[op.advice], s=op.path)
    if isinstance(op, ForkOp):
        return _sys(abi.SYS_fork, fork_ids[op.program])
    if isinstance(op, WaitOp):
        return _sys(abi.VL_WAIT_CHILDREN)
    if isinstance(op, ExitOp):
        return _sys(abi.SYS_exit, op.code)
    if isinstance(op, SleepOp):
        return _sys(abi.SYS_nanosleep, op.ns)
    if isinstance(op, ComputeOp):
        return Insn(OP_COMPUTE, op.ns)
    if isinstance(op, CheckpointOp):
        return _sys(abi.VL_CHECKPOINT, s=op.name)
    if isinstance(op, VerifyOp):
        return _sys(abi.VL_VERIFY)
    return _debug_insn(op)


def _debug_insn(op: Op) -> Insn | None:
    """The scenario debugger's calls (kernelmodel.kernel.kernel VL_BREAK .. VL_POWER_CUT)."""
    if isinstance(op, BreakOp):
        return _sys(VL_BREAK, s=f"{op.task} {op.point}")
    if isinstance(op, AwaitOp):
        return _sys(VL_AWAIT_STOPPED, s=f"{op.task} {op.point}".rstrip())
    if isinstance(op, ContinueOp):
        return _sys(VL_CONTINUE, s=op.task)
    if isinstance(op, PowerCutOp):
        return _sys(VL_POWER_CUT)
    return None


def _offsets(op: ReadOp | WriteOp, file_size: int | None, rng: Rng) -> list[int]:
    """The file offset of each repetition of a read or write."""
    if op.random:
        if file_size is None or op.offset + op.length > file_size:
            raise ValueError(f"{op.text}: random offsets need the file's size")
        slots = (file_size - op.offset - op.length) // PAGE_SIZE + 1
        return [op.offset + rng.below(slots) * PAGE_SIZE for _ in range(op.count)]
    if op.offset == POS:
        return [POS] * op.count
    return [op.offset + rep * op.length for rep in range(op.count)]


def _rw_insns(op: ReadOp | WriteOp, where: tuple[int, str, str, int],
              file_sizes: Mapping[str, int]) -> list[Insn]:
    seed, owner, program, index = where
    rng = Rng(derive_seed(seed, owner, program, index, "offsets"))
    offsets = _offsets(op, file_sizes.get(op.path), rng)
    if isinstance(op, ReadOp):
        return [_sys(abi.SYS_read, off, op.length, s=op.path) for off in offsets]
    return [_sys(abi.SYS_write, off, op.length, derive_seed(seed, owner, program, index, rep),
                 op.path) for rep, off in enumerate(offsets)]


def text_file(loaded: LoadedTrace, region: str) -> str:
    """The emulated file that holds a replayed program's text region (``trace_files``)."""
    return f"trace-{loaded.trace.checksum[:12]}.{region}"


def is_text_region(name: str) -> bool:
    return name == "text" or name.startswith("text.")


def trace_files(traces: Mapping[str, LoadedTrace]) -> list[tuple[str, int]]:
    """(path, size) of the files that hold the text regions of the replayed programs: they
    exist on the disk at boot, as a program's file does before it is executed."""
    out: dict[str, int] = {}
    for loaded in traces.values():
        for p in loaded.placements:
            if is_text_region(p.region.name):
                out[text_file(loaded, p.region.name)] = p.length
    return list(out.items())


def _replay_insns(op: ReplayOp, traces: Mapping[str, LoadedTrace]) -> list[Insn]:
    """Map the trace's regions where its relocation puts them, unpopulated, as exec leaves
    a program: a text region as a private read-write mapping of its file (``trace_files``:
    fetched through the page cache, shared between copies, copied on a write), every other
    region as anonymous private read-write memory. Then replay the accesses."""
    loaded = traces[op.trace]
    out: list[Insn] = []
    for p in loaded.placements:
        if is_text_region(p.region.name):
            path = text_file(loaded, p.region.name)
            out.append(_open_insn(OpenOp(text=op.text, path=path)))
            out.append(_mmap_insn(MmapOp(text=op.text, addr=p.base, length=p.length,
                                         path=path)))
            out.append(_sys(abi.SYS_close, s=path))
        else:
            out.append(_mmap_insn(MmapOp(text=op.text, addr=p.base, length=p.length, path="")))
    insn = Insn(OP_REPLAY, 0, op.repeat, op.speed, 0, loaded.trace.checksum)
    insn.trace = loaded.replay
    out.append(insn)
    return out


def load_traces(scenario: Scenario) -> dict[str, LoadedTrace]:
    """Every trace the scenario's ``replay`` ops name, loaded (``scenarios.trace.library``).

    Raises:
        TraceError: one cannot be found or read.
    """
    from scenarios.trace.library import load

    return {name: load(name, scenario.trace_dirs) for name in scenario.replay_traces()}


def assemble_program(
    program: Program,
    *,
    seed: int,
    owner: str,
    fork_ids: Mapping[str, int],
    file_sizes: Mapping[str, int],
    traces: Mapping[str, LoadedTrace] | None = None,
) -> list[Insn]:
    """Assemble one program.

    Args:
        program: a program of a validated scenario (``check_program`` passed).
        seed: the scenario seed.
        owner: the task name (or program name for a fork target) the seeds are drawn for.
        fork_ids: program id of every fork target.
        file_sizes: boot-time size of each file, for random offsets.

    Caller: the program comes from a validated ``Scenario``.
    """
    out: list[Insn] = []
    loops: list[int] = []
    for index, op in enumerate(program.ops):
        if isinstance(op, LoopOp):
            loops.append(len(out))
            out.append(Insn(OP_LOOP, op.count, 0))
        elif isinstance(op, EndOp):
            start = loops.pop()
            out[start].b = len(out)
            out.append(Insn(OP_ENDLOOP, start))
        elif isinstance(op, ReadOp | WriteOp):
            out.extend(_rw_insns(op, (seed, owner, program.name, index), file_sizes))
        elif isinstance(op, ReplayOp):
            out.extend(_replay_insns(op, traces or {}))
        else:
            insn = _simple_insn(op, fork_ids)
            if insn is None:  # pragma: no cover - every Op subclass is handled above
                raise TypeError(f"assemble_program: no encoding for {op!r}")
            out.append(insn)
    return out


def _reachable(scenario: Scenario) -> list[str]:
    """Programs run by tasks or forked from them, in declaration order."""
    found = {t.program for t in scenario.tasks}
    todo = [t.program for t in scenario.tasks]
    while todo:
        prog = scenario.programs[todo.pop()]
        for op in prog.ops:
            if isinstance(op, ForkOp) and op.program not in found:
                found.add(op.program)
                todo.append(op.program)
    return [name for name in scenario.programs if name in found]


def _fork_targets(scenario: Scenario, reachable: list[str]) -> list[str]:
    targets: dict[str, None] = {}
    for name in reachable:
        for op in scenario.programs[name].ops:
            if isinstance(op, ForkOp):
                targets[op.program] = None
    return [name for name in scenario.programs if name in targets]


def assemble(scenario: Scenario, seed: int | None = None) -> Assembly:
    """Assemble every program a run needs: one per fork target, then one per task.

    Args:
        scenario: a validated scenario.
        seed: overrides ``scenario.seed`` when given.

    Returns:
        The programs in the order they must be added to the kernel and the tasks to spawn.
    """
    s = scenario.seed if seed is None else seed
    sizes = scenario.file_sizes()
    traces = load_traces(scenario)
    targets = _fork_targets(scenario, _reachable(scenario))
    fork_ids = {name: i for i, name in enumerate(targets)}
    programs = [
        AssembledProgram(name, name, name, assemble_program(
            scenario.programs[name], seed=s, owner=name, fork_ids=fork_ids, file_sizes=sizes,
            traces=traces))
        for name in targets
    ]
    users: dict[str, int] = {}
    for t in scenario.tasks:
        users[t.program] = users.get(t.program, 0) + 1
    tasks: list[tuple[str, int]] = []
    for t in scenario.tasks:
        unique = users[t.program] == 1 and t.program not in fork_ids
        name = t.program if unique else f"{t.program}@{t.name}"
        insns = assemble_program(scenario.programs[t.program], seed=s, owner=t.name,
                                 fork_ids=fork_ids, file_sizes=sizes, traces=traces)
        tasks.append((t.name, len(programs)))
        programs.append(AssembledProgram(name, t.program, t.name, insns))
    return Assembly(programs, tasks, trace_files(traces))
