'''Read a scenario file (TOML) into a validated ``Scenario``.

A scenario describes a machine, the files on its disk, the processes that run and what must
be true afterwards. Everything is checked before anything runs; a mistake is reported as one
line naming the file, the place in it and what is wrong, with a suggestion where one helps::

    fsync-race.toml: tasks[1].program[3]: unknown op "fsyn" (did you mean "fsync"? ...)
    fsync-race.toml: machine: unknown key "memroy" (did you mean "memory"?)

Indices count from 0, as in the file's arrays. The full reference with examples is
docs/scenarios.md; in short:

Top level
    ``name`` (default: the file name), ``description``, ``seed`` (default 0), ``duration``
    (simulated-time limit, default "60s"; a run also ends when every task has exited),
    ``kernel`` = "2.6.5" | "2.6.6" | "2.6.7" (default "2.6.7") or a table
    ``{profile = "2.6.7", writeback = "tags"|"lists", rmap = "anon_vma"|"pte_chain"|"anonmm",
    vmscan = "2.6.6"|"2.6.7", swapin = "2.6.6"|"2.6.7"}`` (each switch defaults to the
    profile's own design).

``[machine]``
    ``memory`` (64MiB), ``disk`` (1GiB), ``swap`` (128MiB), ``tlb_entries`` (64, a power of
    two), ``elevator`` ("deadline" or "noop").

``[tunables]``
    ``dirty_background_ratio`` (10), ``dirty_ratio`` (40), ``dirty_writeback_centisecs``
    (500), ``dirty_expire_centisecs`` (3000), ``swappiness`` (60): the 2.6.6 defaults.

``[[files]]``
    Files on disk at boot (not in the page cache): ``path``, ``size``, ``content`` = "zero" |
    "pattern" | "random" | "sparse" (default "zero"; sparse: all holes, no blocks), ``seed``
    (default: derived from the run's seed).

``[programs]``
    ``NAME = [op, op, ...]``; each op is one string of space-separated tokens.

``[[tasks]]``
    Processes started at boot: ``name`` and ``program`` (a program name, or an inline list
    of ops, which becomes a program named after the task).

``[[expect]]``
    ``check`` (e.g. "nr_dirty == 0 and data_verified"), ``at`` ("end", the default, or a
    checkpoint name), optional ``name``.

``[[story]]``
    ``text`` (at most 600 characters) shown ``at`` = "start" | "end" | a checkpoint | a
    simulated time ("300ms"), or ``when`` a check first holds (the expectations' language);
    with both, at that moment if the check holds then.

Ops (sizes take units: 4KiB, 16MiB; addresses may be hex: 0x4000_0000; durations: 300ms)::

    mmap ADDR LEN anon|FILE [offset OFF] [shared|private] [ro|rw]
    munmap ADDR LEN
    mprotect ADDR LEN none|r|ro|rw|rx|rwx      change the protection of [ADDR, ADDR+LEN)
    touch ADDR LEN read|write [stride N]        one 32-bit access every N bytes (4KiB)
    store ADDR VALUE
    load ADDR [expect VALUE]
    open PATH [create] [trunc]
    close PATH
    read PATH OFF|pos LEN [x COUNT [random|seq]]
    write PATH OFF|pos LEN [x COUNT [random|seq]]
    fsync PATH          fdatasync PATH          sync
    truncate PATH LEN   unlink PATH
    msync ADDR LEN [sync|async]
    fadvise PATH dontneed|normal|random|sequential|willneed|noreuse    posix_fadvise, whole file
    fork PROGRAM        wait                    exit [CODE]
    sleep DURATION      compute DURATION
    loop N ... end      checkpoint NAME         verify
    break TASK at POINT     await TASK [at POINT]   continue TASK     powercut

Checks made here: units and ranges (docs/scenarios.md, "Hostile input": every number below
2^64, times at most 2^62 ns, the TOML text at most 1 MiB and nested at most 32 deep, integers
written as TOML integers); names; unknown keys (with a did-you-mean); files named
by ops exist in ``[[files]]`` or are opened with ``create`` by some program; a task's program
opens a file before it reads, writes, syncs, truncates, maps or closes it; ``fork`` targets
exist; loops balance; checkpoint names are unique within a program; expectations name known
metrics and existing checkpoints; random offsets fit in the file; ``break``, ``await`` and
``continue`` name a task of ``[[tasks]]``, a forked program (a child is named after its
program) or a kernel thread (``pdflush``, ``kswapd0``), and a known preemption point
(``kernelmodel.kernel.kernel.PREEMPT_POINTS``); a task does not await itself; no program records a
checkpoint named ``power_cut`` (``powercut`` does).
'''

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from kernelmodel.fs.fs import CONTENT_KINDS
from kernelmodel.kernel.kernel import vl_max_threads
from kernelmodel.kernel.vl_scenario import KTHREAD_NAMES
from machine.board import MAX_MEM_BYTES
from machine.disk import ELEVATOR_NAMES
from scenarios.expect import ExpectError, parse_check, suggest
from scenarios.input_file import InputFileError, read_input_file
from scenarios.one_line import one_line
from scenarios.ops import (
    NAME_RE,
    PATH_RE,
    OpError,
    ProgramError,
    check_program,
    parse_op,
)
from scenarios.profiles import DESIGNS, PROFILES, profile_spec
from scenarios.schema import (
    DEFAULT_DURATION_NS,
    DEFAULT_PROFILE,
    MAX_FILE_SIZE,
    STORY_END,
    STORY_START,
    AwaitOp,
    BreakOp,
    CloseOp,
    ContinueOp,
    Expectation,
    FadviseOp,
    FileSpec,
    ForkOp,
    FsyncOp,
    KernelSpec,
    MachineSpec,
    MmapOp,
    Op,
    OpenOp,
    Program,
    ReadOp,
    ReplayOp,
    Scenario,
    StoryItem,
    TaskSpec,
    TruncateOp,
    TunablesSpec,
    UnlinkOp,
    WriteOp,
)
from scenarios.toml_limits import MAX_TEXT_CHARS, TomlLimitError, check_toml_limits
from scenarios.units import (
    UnitError,
    format_size,
    parse_duration,
    parse_size,
    type_name,
)

T = TypeVar("T")

TOP_KEYS: Final = ("name", "description", "kernel", "seed", "duration", "machine", "tunables",
                   "files", "tasks", "programs", "expect", "story")
KERNEL_KEYS: Final = ("profile", *(d.switch for d in DESIGNS))
MACHINE_KEYS: Final = ("memory", "disk", "swap", "tlb_entries", "elevator")
TUNABLE_KEYS: Final = ("dirty_background_ratio", "dirty_ratio", "dirty_writeback_centisecs",
                       "dirty_expire_centisecs", "swappiness")
FILE_KEYS: Final = ("path", "size", "content", "seed")
TASK_KEYS: Final = ("name", "program")
EXPECT_KEYS: Final = ("name", "at", "check")
STORY_KEYS: Final = ("at", "when", "text")
#: Most ``[[story]]`` entries, and the longest text of one: narration is a few short lines.
MAX_STORY_ITEMS: Final = 100
MAX_STORY_CHARS: Final = 600
#: Metrics that only the data oracle or the invariant checker computes: too costly to watch
#: after every event, so a ``when`` without ``at`` may not use them.
_AFTER_THE_FACT: Final = ("data_verified", "invariants_ok", "acked_bytes_lost")
CONTENTS: Final = CONTENT_KINDS
BLOCK_SIZE: Final = 4096
MIN_MEMORY: Final = 4 << 20
MAX_SEED: Final = (1 << 63) - 1
#: 2 TiB: 2^32 sectors of 512 bytes (a 32-bit sector_t, i386 without CONFIG_LBD).
MAX_DISK_BYTES: Final = 2 << 40
#: 64 GiB: 2^24 pages, the most the 24-bit offset of an i386 swap entry addresses.
MAX_SWAP_BYTES: Final = 64 << 30


class ScenarioError(Exception):
    """A scenario that cannot be loaded; ``str()`` is one line: ``file: place: problem``."""

    def __init__(self, source: str, where: str, message: str) -> None:
        self.source = source
        self.where = where
        self.message = message
        super().__init__(one_line(f"{source}: {where}: {message}" if where
                                  else f"{source}: {message}"))


class _Reader:
    """Error construction and typed access for one file being loaded."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(self.source, where, message)

    def keys(self, table: dict[str, object], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                hint = suggest(key, allowed)
                more = hint if hint else f" (expected one of: {', '.join(allowed)})"
                raise self.error(where, f'unknown key "{key}"{more}')

    def table(self, value: object, where: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.error(where, f"expected a table, not {type_name(value)}")
        return value

    def list_of_tables(self, value: object, where: str) -> list[dict[str, object]]:
        if isinstance(value, dict):
            raise self.error(where, f"expected an array of tables: write [[{where}]], not "
                                    f"[{where}]")
        if not isinstance(value, list):
            raise self.error(where, f"expected an array of tables ([[{where}]]), not "
                                    f"{type_name(value)}")
        return [self.table(item, f"{where}[{i}]") for i, item in enumerate(value)]

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.error(where, f"expected a string, not {type_name(value)}")
        return value

    def choice(self, value: object, choices: tuple[str, ...], where: str) -> str:
        text = self.string(value, where)
        if text not in choices:
            raise self.error(where, f'"{text}" is not one of: {", ".join(choices)}'
                                    f"{suggest(text, choices)}")
        return text

    def convert(self, value: object, parse: Callable[[object], T], where: str) -> T:
        try:
            return parse(value)
        except UnitError as exc:
            raise self.error(where, str(exc)) from None

    def int_in(self, value: object, lo: int, hi: int, where: str) -> int:
        """A TOML integer in lo..hi: a string, even of digits, is refused (types are strict)."""
        if isinstance(value, str):
            key = where.rsplit(".", 1)[-1]
            hint = (f": write {key} = {value} without quotes"
                    if re.fullmatch(r"[0-9_]+|0x[0-9a-fA-F_]+", value) else "")
            raise self.error(where, f'expected an integer, not a string ("{value}"){hint}')
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected an integer, not {type_name(value)}")
        if value < lo or value > hi:
            shown = value if value.bit_length() <= 64 else f"a number of {value.bit_length()} bits"
            raise self.error(where, f"{shown} is outside {lo}..{hi}")
        return value


def _name(r: _Reader, value: object, where: str) -> str:
    text = r.string(value, where)
    if not NAME_RE.fullmatch(text):
        raise r.error(where, f'"{text}" is not a name (a letter or "_", then letters, digits, '
                             f'"_", ".", "-")')
    return text


def _kernel(r: _Reader, value: object) -> KernelSpec:
    if value is None:
        return KernelSpec()
    if isinstance(value, str):
        return profile_spec(r.choice(value, tuple(PROFILES), "kernel"))
    table = r.table(value, "kernel")
    r.keys(table, KERNEL_KEYS, "kernel")
    profile = r.choice(table.get("profile", DEFAULT_PROFILE), tuple(PROFILES), "kernel.profile")
    chosen: dict[str, str] = {}
    for d in DESIGNS:
        if d.switch in table:
            chosen[d.switch] = r.choice(table[d.switch], d.names, f"kernel.{d.switch}")
    return dataclasses.replace(profile_spec(profile), **chosen)


def _machine(r: _Reader, value: object) -> MachineSpec:
    d = MachineSpec()
    if value is None:
        return d
    t = r.table(value, "machine")
    r.keys(t, MACHINE_KEYS, "machine")
    memory = r.convert(t.get("memory", d.memory), parse_size, "machine.memory")
    if memory % 4096 or memory < MIN_MEMORY or memory > MAX_MEM_BYTES:
        raise r.error("machine.memory", f"{memory} bytes is not a multiple of 4KiB between "
                                        f"4MiB and 4GiB")
    disk = r.convert(t.get("disk", d.disk), parse_size, "machine.disk")
    if disk <= 0 or disk % 4096:
        raise r.error("machine.disk", f"{disk} bytes is not a positive multiple of 4KiB")
    if disk > MAX_DISK_BYTES:
        most = format_size(MAX_DISK_BYTES)
        raise r.error("machine.disk", f"{format_size(disk)} is larger than {most}, the most a "
                                      f"32-bit sector number addresses")
    swap = r.convert(t.get("swap", d.swap), parse_size, "machine.swap")
    if swap % 4096:
        raise r.error("machine.swap", f"{swap} bytes is not a multiple of 4KiB")
    if swap > MAX_SWAP_BYTES:
        most = format_size(MAX_SWAP_BYTES)
        raise r.error("machine.swap", f"{format_size(swap)} is larger than {most}, the most "
                                      f"the 24-bit offset of an i386 swap entry addresses")
    if swap >= disk:
        raise r.error("machine.swap", f"{format_size(swap)} of swap does not fit on a "
                                      f"{format_size(disk)} disk (swap is the end of the disk)")
    tlb = r.int_in(t.get("tlb_entries", d.tlb_entries), 1, 4096, "machine.tlb_entries")
    if tlb & (tlb - 1):
        raise r.error("machine.tlb_entries", f"{tlb} is not a power of two")
    elevator = r.choice(t.get("elevator", d.elevator), ELEVATOR_NAMES, "machine.elevator")
    return MachineSpec(memory=memory, disk=disk, swap=swap, tlb_entries=tlb, elevator=elevator)


def _tunables(r: _Reader, value: object) -> TunablesSpec:
    d = TunablesSpec()
    if value is None:
        return d
    t = r.table(value, "tunables")
    r.keys(t, TUNABLE_KEYS, "tunables")
    limits = {"dirty_background_ratio": 100, "dirty_ratio": 100, "swappiness": 100,
              "dirty_writeback_centisecs": 1 << 31, "dirty_expire_centisecs": 1 << 31}
    values = {
        key: r.int_in(t.get(key, getattr(d, key)), 0, hi, f"tunables.{key}")
        for key, hi in limits.items()
    }
    return TunablesSpec(**values)


def _files(r: _Reader, value: object, machine: MachineSpec) -> tuple[FileSpec, ...]:
    if value is None:
        return ()
    out: list[FileSpec] = []
    seen: set[str] = set()
    for i, t in enumerate(r.list_of_tables(value, "files")):
        where = f"files[{i}]"
        r.keys(t, FILE_KEYS, where)
        if "path" not in t:
            raise r.error(where, 'missing "path"')
        path = r.string(t["path"], f"{where}.path")
        if not PATH_RE.fullmatch(path) or path in ("anon", "pos"):
            raise r.error(f"{where}.path", f'"{path}" is not a file name (letters, digits, '
                                           f'"_", ".", "-", "/"; not "anon" or "pos")')
        if path in seen:
            raise r.error(f"{where}.path", f'"{path}" is declared twice')
        seen.add(path)
        if "size" not in t:
            raise r.error(where, 'missing "size"')
        size = r.convert(t["size"], parse_size, f"{where}.size")
        if size > MAX_FILE_SIZE:
            raise r.error(f"{where}.size", f"{size:,} bytes is larger than the largest file, "
                                           f"{MAX_FILE_SIZE:,} bytes (MAX_LFS_FILESIZE on i386)")
        content = r.choice(t.get("content", "zero"), CONTENTS, f"{where}.content")
        seed = r.int_in(t["seed"], 0, MAX_SEED, f"{where}.seed") if "seed" in t else None
        out.append(FileSpec(path=path, size=size, content=content, seed=seed))
    need = sum(_blocks(f) for f in out) * BLOCK_SIZE
    room = (machine.disk - machine.swap) - BLOCK_SIZE  # block 0 holds the superblock
    if need > room:
        raise r.error("files", f"the files need {format_size(need)} but the filesystem holds "
                               f"{format_size(room)} (the disk minus swap and the superblock)")
    return tuple(out)


def _blocks(f: FileSpec) -> int:
    """Filesystem blocks a boot-time file occupies (none for a sparse file)."""
    return 0 if f.content == "sparse" else (f.size + BLOCK_SIZE - 1) // BLOCK_SIZE


def _ops(r: _Reader, value: object, where: str) -> tuple[Op, ...]:
    if not isinstance(value, list):
        raise r.error(where, f"expected a list of op strings, not {type_name(value)}")
    if not value:
        raise r.error(where, "the program has no ops")
    ops: list[Op] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise r.error(f"{where}[{i}]", f"expected an op string, not {type_name(item)}")
        try:
            ops.append(parse_op(item))
        except OpError as exc:
            raise r.error(f"{where}[{i}]", str(exc)) from None
    try:
        check_program(ops)
    except ProgramError as exc:
        place = where if exc.index < 0 else f"{where}[{exc.index}]"
        raise r.error(place, str(exc)) from None
    return tuple(ops)


def _programs(r: _Reader, value: object) -> dict[str, Program]:
    if value is None:
        return {}
    t = r.table(value, "programs")
    out: dict[str, Program] = {}
    for name, ops in t.items():
        where = f"programs.{name}"
        _name(r, name, where)
        out[name] = Program(name=name, ops=_ops(r, ops, where), where=where)
    return out


def _tasks(r: _Reader, value: object, programs: dict[str, Program],
           max_tasks: int) -> tuple[TaskSpec, ...]:
    if value is None:
        raise r.error("", "no [[tasks]]: a scenario needs at least one task")
    tables = r.list_of_tables(value, "tasks")
    if not tables:
        raise r.error("tasks", "a scenario needs at least one task")
    if len(tables) > max_tasks:
        raise r.error("tasks", f"{len(tables):,} tasks at boot: more than RLIMIT_NPROC "
                               f"({max_tasks}, half of threads-max on this machine's memory)")
    out: list[TaskSpec] = []
    for i, t in enumerate(tables):
        where = f"tasks[{i}]"
        r.keys(t, TASK_KEYS, where)
        if "program" not in t:
            raise r.error(where, 'missing "program" (a program name or a list of ops)')
        prog = t["program"]
        default = prog if isinstance(prog, str) else f"task{i}"
        name = _name(r, t.get("name", default), f"{where}.name")
        if any(task.name == name for task in out):
            raise r.error(f"{where}.name", f'"{name}" is already the name of another task '
                                              f'(give each task its own "name")')
        if isinstance(prog, list):
            if name in programs:
                raise r.error(f"{where}.program", f'an inline program takes the task\'s name '
                                                  f'"{name}", which programs.{name} already has')
            programs[name] = Program(name=name, ops=_ops(r, prog, f"{where}.program"),
                                     where=f"{where}.program")
            prog = name
        prog_name = r.string(prog, f"{where}.program")
        if prog_name not in programs:
            raise r.error(f"{where}.program", f'no program named "{prog_name}"'
                                              f"{suggest(prog_name, programs)}")
        out.append(TaskSpec(name=name, program=prog_name))
    return tuple(out)


_PATH_OPS: Final = (MmapOp, OpenOp, CloseOp, ReadOp, WriteOp, FsyncOp, TruncateOp, UnlinkOp,
                    FadviseOp)
_NEEDS_OPEN: Final = (MmapOp, CloseOp, ReadOp, WriteOp, FsyncOp, TruncateOp, FadviseOp)


def _op_path(op: Op) -> str:
    if isinstance(op, _PATH_OPS):
        return op.path
    return ""


def _check_files(r: _Reader, prog: Program, known: set[str], sizes: dict[str, int]) -> None:
    for i, op in enumerate(prog.ops):
        path = _op_path(op)
        verb = op.text.split()[0]
        if not path or (isinstance(op, OpenOp) and op.create):
            continue
        if path not in known:
            raise r.error(f"{prog.where}[{i}]", f'{verb}: no file "{path}" in [[files]] and no '
                                                f'"open {path} create" in any program'
                                                f"{suggest(path, sorted(known))}")
        if isinstance(op, ReadOp | WriteOp) and op.random:
            size = sizes.get(path)
            if size is None:
                raise r.error(f"{prog.where}[{i}]", f'{verb}: random offsets need the size of '
                                                    f'"{path}"; declare it in [[files]]')
            if op.offset + op.length > size:
                raise r.error(f"{prog.where}[{i}]", f"{verb}: OFF + LEN ({op.offset + op.length}"
                                                    f') is beyond the size of "{path}" ({size})')


def _check_opened(r: _Reader, prog: Program) -> None:
    """A program a task runs from the start opens each file before using it (text order)."""
    opened: set[str] = set()
    for i, op in enumerate(prog.ops):
        if isinstance(op, OpenOp):
            opened.add(op.path)
        elif isinstance(op, _NEEDS_OPEN) and op.path and op.path not in opened:
            verb = op.text.split()[0]
            raise r.error(f"{prog.where}[{i}]", f'{verb}: "{op.path}" is not open here (add '
                                                f'"open {op.path}" before this op)')
        elif isinstance(op, CloseOp):
            opened.discard(op.path)


def _check_refs(r: _Reader, files: tuple[FileSpec, ...], programs: dict[str, Program],
                tasks: tuple[TaskSpec, ...]) -> None:
    known = {f.path for f in files}
    for prog in programs.values():
        for op in prog.ops:
            if isinstance(op, OpenOp) and op.create:
                known.add(op.path)
    sizes = {f.path: f.size for f in files}
    forked: set[str] = set()
    for prog in programs.values():
        for i, op in enumerate(prog.ops):
            if isinstance(op, ForkOp):
                if op.program not in programs:
                    raise r.error(f"{prog.where}[{i}]", f'fork: no program named "{op.program}"'
                                                        f"{suggest(op.program, programs)}")
                forked.add(op.program)
        _check_files(r, prog, known, sizes)
    for task in tasks:
        if task.program not in forked:
            _check_opened(r, programs[task.program])
    _check_task_refs(r, programs, tasks, forked)


_TASK_OPS: Final = (BreakOp, AwaitOp, ContinueOp)


def _check_task_refs(r: _Reader, programs: dict[str, Program], tasks: tuple[TaskSpec, ...],
                     forked: set[str]) -> None:
    """``break``/``await``/``continue`` name a task that can exist; no task awaits itself."""
    names = [t.name for t in tasks] + sorted(forked) + list(KTHREAD_NAMES)
    runs_as: dict[str, list[str]] = {}
    for t in tasks:
        runs_as.setdefault(t.program, []).append(t.name)
    for prog_name in forked:
        runs_as.setdefault(prog_name, []).append(prog_name)
    for prog in programs.values():
        for i, op in enumerate(prog.ops):
            if not isinstance(op, _TASK_OPS):
                continue
            verb = op.text.split()[0]
            where = f"{prog.where}[{i}]"
            if op.task not in names:
                close = difflib.get_close_matches(op.task, names, n=1, cutoff=0.6)
                hint = f'did you mean "{close[0]}"? ' if close else ""
                raise r.error(where, f'{verb}: no task named "{op.task}" ({hint}expected a '
                                     f"task of [[tasks]], a forked program or a kernel "
                                     f"thread: {', '.join(names)})")
            if isinstance(op, AwaitOp) and op.task in runs_as.get(prog.name, []):
                raise r.error(where, f'await: task "{op.task}" runs this program and would '
                                     f"wait for itself")


def _expectations(r: _Reader, value: object, checkpoints: list[str]) -> tuple[Expectation, ...]:
    if value is None:
        return ()
    tables = [value] if isinstance(value, dict) else value
    out: list[Expectation] = []
    for i, t in enumerate(r.list_of_tables(tables, "expect")):
        where = f"expect[{i}]"
        r.keys(t, EXPECT_KEYS, where)
        if "check" not in t:
            raise r.error(where, 'missing "check" (for example: check = "nr_dirty == 0")')
        text = r.string(t["check"], f"{where}.check")
        try:
            check = parse_check(text)
        except ExpectError as exc:
            raise r.error(f"{where}.check", str(exc)) from None
        at = r.string(t.get("at", "end"), f"{where}.at")
        if at != "end" and at not in checkpoints:
            raise r.error(f"{where}.at", f'no checkpoint named "{at}" (use "end" or a '
                                         f'checkpoint a program records){suggest(at, checkpoints)}')
        for cp in check.checkpoints():
            if cp not in checkpoints:
                raise r.error(f"{where}.check", f'no checkpoint named "{cp}"'
                                                f"{suggest(cp, checkpoints)}")
        label = check.text if at == "end" else f"{at}: {check.text}"
        name = r.string(t["name"], f"{where}.name") if "name" in t else label
        out.append(Expectation(name=name, at=at, check=check, where=where))
    return tuple(out)


def _story_text(r: _Reader, value: object, where: str) -> str:
    text = r.string(value, where)
    if not text.strip():
        raise r.error(where, "the text is empty")
    if len(text) > MAX_STORY_CHARS:
        raise r.error(where, f"{len(text):,} characters: a story text holds at most "
                             f"{MAX_STORY_CHARS} (split it at a later moment)")
    bad = next((c for c in text if c != "\n" and (ord(c) < 32 or ord(c) == 127)), None)
    if bad is not None:
        raise r.error(where, f"control character U+{ord(bad):04X} in the text (only line "
                             f"breaks are allowed)")
    return text


def _story_at(r: _Reader, value: object, where: str, checkpoints: list[str],
              duration_ns: int) -> tuple[str, int]:
    """``at``: (point, -1) for start, end or a checkpoint, ("", ns) for a simulated time."""
    text = r.string(value, where)
    if text in (STORY_START, STORY_END) or text in checkpoints:
        return text, -1
    if text[:1].isdigit():
        ns = r.convert(text, parse_duration, where)
        if ns > duration_ns:
            raise r.error(where, f"{text} is after the scenario's duration "
                                 f"({duration_ns:,} ns): the text would never be shown")
        return "", ns
    raise r.error(where, f'"{text}" is not "start", "end", a checkpoint a program records or a '
                         f"simulated time (300ms){suggest(text, checkpoints)}")


def _story(r: _Reader, value: object, checkpoints: list[str],
           duration_ns: int) -> tuple[StoryItem, ...]:
    """``[[story]]``: texts shown at a moment (``at``), when a condition first holds
    (``when``), or at a moment if the condition holds then (both)."""
    if value is None:
        return ()
    tables = r.list_of_tables(value, "story")
    if len(tables) > MAX_STORY_ITEMS:
        raise r.error("story", f"{len(tables):,} entries: a story has at most "
                               f"{MAX_STORY_ITEMS}")
    out: list[StoryItem] = []
    for i, t in enumerate(tables):
        where = f"story[{i}]"
        r.keys(t, STORY_KEYS, where)
        if "text" not in t:
            raise r.error(where, 'missing "text" (what to watch now, and why it matters)')
        if "at" not in t and "when" not in t:
            raise r.error(where, 'say when the text is shown: at = "start", "end", a '
                                 'checkpoint or a time, or when = a check ("nr_writeback > 0")')
        text = _story_text(r, t["text"], f"{where}.text")
        point, time_ns, at_text = "", -1, ""
        if "at" in t:
            at_text = r.string(t["at"], f"{where}.at")
            point, time_ns = _story_at(r, at_text, f"{where}.at", checkpoints, duration_ns)
        when = None
        if "when" in t:
            try:
                when = parse_check(r.string(t["when"], f"{where}.when"))
            except ExpectError as exc:
                raise r.error(f"{where}.when", str(exc)) from None
            for cp in when.checkpoints():
                if cp not in checkpoints:
                    raise r.error(f"{where}.when", f'no checkpoint named "{cp}"'
                                                   f"{suggest(cp, checkpoints)}")
            costly = next((m for m in when.metrics() if m in _AFTER_THE_FACT), None)
            if costly is not None and "at" not in t:
                raise r.error(f"{where}.when", f'"{costly}" is computed by the data oracle or '
                                               f"the invariant checker, too costly to watch "
                                               f'after every event; add at = "end" or a '
                                               f"checkpoint")
        out.append(StoryItem(text=text, where=where, point=point, time_ns=time_ns, when=when,
                             at_text=at_text))
    return tuple(out)


def _check_traces(r: _Reader, programs: dict[str, Program], dirs: tuple[str, ...]) -> None:
    """Every trace a ``replay`` names can be found, read and placed on i386."""
    from scenarios.trace.format import TraceError
    from scenarios.trace.library import load

    for prog in programs.values():
        for i, op in enumerate(prog.ops):
            if isinstance(op, ReplayOp):
                try:
                    load(op.trace, dirs)
                except TraceError as exc:
                    raise r.error(f"{prog.where}[{i}]", f"replay: {exc}") from None


def load_text(text: str, source: str = "<string>", default_name: str = "scenario",
              trace_dirs: tuple[str, ...] = ()) -> Scenario:
    """Parse and validate a scenario from TOML text.

    Args:
        text: the TOML document.
        source: how messages name the file (usually its base name).
        default_name: the scenario's name when the file sets none.
        trace_dirs: where ``replay`` looks for trace files named by a relative path
            (before the current directory).

    Raises:
        ScenarioError: the first problem found, as one line.
    """
    r = _Reader(source)
    try:
        check_toml_limits(text)
        doc = tomllib.loads(text)
    except TomlLimitError as exc:
        raise r.error("", str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise r.error("", f"invalid TOML: {exc}") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise r.error("", f"invalid TOML: {exc}") from None
    return load_doc(doc, source, default_name, trace_dirs)


def load_doc(doc: dict[str, object], source: str = "<string>",
             default_name: str = "scenario", trace_dirs: tuple[str, ...] = ()) -> Scenario:
    """Validate a scenario from its parsed TOML document (``tomllib``'s tables and arrays).

    ``vmlab sweep`` edits the document of a scenario file (``--set machine.memory=...``) and
    validates each variant here, so an edited value is checked exactly as if it were written
    in the file.

    Raises:
        ScenarioError: the first problem found, as one line.
    """
    r = _Reader(source)
    r.keys(doc, TOP_KEYS, "")
    name = _name(r, doc.get("name", default_name), "name")
    description = r.string(doc.get("description", ""), "description")
    kernel = _kernel(r, doc.get("kernel"))
    seed = r.int_in(doc.get("seed", 0), 0, MAX_SEED, "seed")
    duration = DEFAULT_DURATION_NS
    if "duration" in doc:
        duration = r.convert(doc["duration"], parse_duration, "duration")
    if duration <= 0:
        raise r.error("duration", "must be greater than 0")
    machine = _machine(r, doc.get("machine"))
    tunables = _tunables(r, doc.get("tunables"))
    files = _files(r, doc.get("files"), machine)
    programs = _programs(r, doc.get("programs"))
    tasks = _tasks(r, doc.get("tasks"), programs,
                   vl_max_threads(machine.memory // BLOCK_SIZE) // 2)
    _check_refs(r, files, programs, tasks)
    _check_traces(r, programs, trace_dirs)
    scn = Scenario(name=name, description=description, source=source, kernel=kernel, seed=seed,
                   duration_ns=duration, machine=machine,
                   tunables=tunables, files=files, tasks=tasks, programs=programs,
                   trace_dirs=trace_dirs)
    expectations = _expectations(r, doc.get("expect"), scn.checkpoint_names())
    story = _story(r, doc.get("story"), scn.checkpoint_names(), duration)
    return dataclasses.replace(scn, expectations=expectations, story=story)


def load_path(path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario file; messages name it by its base name.

    Raises:
        ScenarioError: the file cannot be read, or the first problem in it.
    """
    p = Path(path)
    return load_text(read_path(p), source=p.name, default_name=p.stem,
                     trace_dirs=(str(p.resolve().parent),))


def read_path(path: str | os.PathLike[str]) -> str:
    """The text of a scenario file.

    Raises:
        ScenarioError: the file cannot be read or is not UTF-8 (named by its base name).
    """
    p = Path(path)
    try:
        return read_input_file(p, "scenario", MAX_TEXT_CHARS).decode("utf-8")
    except InputFileError as exc:
        raise ScenarioError(p.name, "", str(exc)) from None
    except UnicodeDecodeError:
        raise ScenarioError(p.name, "", "the file is not UTF-8 text") from None
