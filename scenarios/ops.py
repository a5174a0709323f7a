"""The op language: parse the op strings of a program and check what spans ops.

Each op is one string of space-separated tokens (``"write log 0 4KiB x 256 random"``).
``parse_op`` turns it into a typed record of ``scenarios.schema`` (``OP_USAGE`` lists every
op with its usage line); ``check_program`` checks what spans ops (balanced loops, unique
checkpoints, the size the program assembles to). ``scenarios.assembler`` turns checked ops
into the instructions the kernel runs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Final

from kernelmodel.include import syscall_abi as abi
from kernelmodel.kernel.vl_scenario import PREEMPT_POINTS
from machine.i386 import PAGE_OFFSET, PAGE_SIZE
from scenarios.schema import (
    MAX_FILE_SIZE,
    MAX_LOOP_COUNT,
    MAX_RW_BYTES,
    POS,
    POWER_CUT,
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
    ReadOp,
    ReplayOp,
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
from scenarios.units import UnitError, parse_duration, parse_int, parse_size

#: Every op, with its usage line, in the order the documentation lists them.
OP_USAGE: Final[dict[str, str]] = {
    "mmap": "mmap ADDR LEN anon|FILE [offset OFF] [shared|private] [ro|rw]",
    "munmap": "munmap ADDR LEN",
    "mprotect": "mprotect ADDR LEN none|r|ro|rw|rx|rwx",
    "touch": "touch ADDR LEN read|write [stride N]",
    "replay": "replay TRACE [repeat N] [speed F]",
    "store": "store ADDR VALUE",
    "load": "load ADDR [expect VALUE]",
    "open": "open PATH [create] [trunc]",
    "close": "close PATH",
    "read": "read PATH OFF|pos LEN [x COUNT [random|seq]]",
    "write": "write PATH OFF|pos LEN [x COUNT [random|seq]]",
    "fsync": "fsync PATH",
    "fdatasync": "fdatasync PATH",
    "sync": "sync",
    "truncate": "truncate PATH LEN",
    "unlink": "unlink PATH",
    "msync": "msync ADDR LEN [sync|async]",
    "fadvise": "fadvise PATH dontneed|normal|random|sequential|willneed|noreuse",
    "fork": "fork PROGRAM",
    "wait": "wait",
    "exit": "exit [CODE]",
    "sleep": "sleep DURATION",
    "compute": "compute DURATION",
    "loop": "loop N",
    "end": "end",
    "checkpoint": "checkpoint NAME",
    "verify": "verify",
    "break": "break TASK at POINT",
    "await": "await TASK [at POINT]",
    "continue": "continue TASK",
    "powercut": "powercut",
}

#: Largest COUNT of ``x COUNT`` (each repetition is one instruction).
MAX_REPEAT: Final = 100_000
#: Largest number of instructions one program may assemble to.
MAX_PROGRAM_INSNS: Final = 1_000_000
#: Deepest loop nesting.
MAX_LOOP_DEPTH: Final = 16
U32_MAX: Final = 0xFFFFFFFF

PATH_RE: Final = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.\-/]*")
NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class OpError(ValueError):
    """An op string that does not parse; the message is one line without the location."""


class ProgramError(ValueError):
    """A problem spanning ops of one program; ``index`` is the op it is reported at."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


# --------------------------------------------------------------------------- parsing


class _Args:
    """The tokens of one op being parsed, with one-line error helpers."""

    def __init__(self, verb: str, toks: list[str]) -> None:
        self.verb = verb
        self.toks = toks
        self.pos = 1

    def usage(self, message: str) -> OpError:
        return OpError(f"{self.verb}: {message} (usage: {OP_USAGE[self.verb]})")

    def need(self, what: str) -> str:
        if self.pos >= len(self.toks):
            raise self.usage(f"missing {what}")
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def more(self) -> bool:
        return self.pos < len(self.toks)

    def done(self) -> None:
        if self.more():
            raise self.usage(f'unexpected "{self.toks[self.pos]}"')

    def value(self, what: str, parse: Callable[[object], int]) -> int:
        tok = self.need(what)
        try:
            return parse(tok)
        except UnitError as exc:
            raise OpError(f"{self.verb} {what}: {exc}") from None

    def fail(self, what: str, message: str) -> OpError:
        return OpError(f"{self.verb} {what}: {message}")


def _size(value: object) -> int:
    return parse_size(value)


def _count(value: object) -> int:
    return parse_int(value, "count")


def _path(a: _Args, what: str = "PATH") -> str:
    tok = a.need(what)
    if not PATH_RE.fullmatch(tok):
        raise a.fail(what, f'"{tok}" is not a file name (letters, digits, "_", ".", "-", "/")')
    return tok


def _name(a: _Args, what: str) -> str:
    tok = a.need(what)
    if not NAME_RE.fullmatch(tok):
        raise a.fail(what, f'"{tok}" is not a name (a letter or "_", then letters, digits, '
                           f'"_", ".", "-")')
    return tok


def _addr(a: _Args, page_aligned: bool) -> int:
    addr = a.value("ADDR", _size)
    if addr >= PAGE_OFFSET:
        raise a.fail("ADDR", f"{addr:#x} is not a user address (user space ends at "
                             f"{PAGE_OFFSET:#x})")
    if page_aligned and addr % PAGE_SIZE:
        raise a.fail("ADDR", f"{addr:#x} is not page-aligned (4KiB)")
    if not page_aligned and addr % 4:
        raise a.fail("ADDR", f"{addr:#x} is not 4-byte aligned (accesses are 32-bit words)")
    return addr


def _length(a: _Args, addr: int | None = None) -> int:
    length = a.value("LEN", _size)
    if length <= 0:
        raise a.fail("LEN", "must be greater than 0")
    if addr is not None and addr + length > PAGE_OFFSET:
        raise a.fail("LEN", f"{addr:#x} + {length:#x} runs past the end of user space "
                            f"({PAGE_OFFSET:#x})")
    return length


def _u32(a: _Args, what: str) -> int:
    v = a.value(what, lambda x: parse_int(x, "value"))
    if v > U32_MAX:
        raise a.fail(what, f"{v:#x} does not fit in 32 bits")
    return v


def _flag(a: _Args, tok: str, current: str) -> str:
    """Record a choice of a flag group, refusing a repeat or a conflicting second choice."""
    if current == tok:
        raise a.usage(f'"{tok}" given twice')
    if current:
        raise a.usage(f'"{current}" and "{tok}" cannot both be given')
    return tok


def _parse_mmap(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=True)
    length = _length(a, addr)
    target = a.need("anon|FILE")
    path = ""
    if target != "anon":
        if not PATH_RE.fullmatch(target):
            raise a.fail("FILE", f'"{target}" is not "anon" or a file name')
        path = target
    offset, share, prot = -1, "", ""
    while a.more():
        tok = a.need("option")
        if tok == "offset":
            if offset >= 0:
                raise a.usage('"offset" given twice')
            offset = a.value("OFF", _size)
            if offset > MAX_FILE_SIZE:
                raise a.fail("OFF", f"{offset:#x} is beyond the largest file ({MAX_FILE_SIZE:#x})")
        elif tok in ("shared", "private"):
            share = _flag(a, tok, share)
        elif tok in ("ro", "rw"):
            prot = _flag(a, tok, prot)
        else:
            raise a.usage(f'unexpected "{tok}"')
    if offset >= 0 and not path:
        raise a.usage('"offset" needs a file mapping, not "anon"')
    if offset > 0 and offset % PAGE_SIZE:
        raise a.fail("OFF", f"{offset:#x} is not page-aligned (4KiB)")
    return MmapOp(text=text, addr=addr, length=length, path=path, offset=max(offset, 0),
                  shared=share == "shared", writable=prot != "ro")


def _parse_munmap(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=True)
    length = _length(a, addr)
    a.done()
    return MunmapOp(text=text, addr=addr, length=length)


#: mprotect's PROT words and their PROT_* bits ("ro" as in mmap's [ro|rw]).
MPROTECT_PROTS: Final[dict[str, int]] = {
    "none": abi.PROT_NONE,
    "r": abi.PROT_READ,
    "ro": abi.PROT_READ,
    "rw": abi.PROT_READ | abi.PROT_WRITE,
    "rx": abi.PROT_READ | abi.PROT_EXEC,
    "rwx": abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC,
}


def _parse_mprotect(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=True)
    length = _length(a, addr)
    word = a.need("PROT")
    prot = MPROTECT_PROTS.get(word)
    if prot is None:
        raise a.fail("PROT", f'"{word}" is not one of: {", ".join(MPROTECT_PROTS)}')
    a.done()
    return MprotectOp(text=text, addr=addr, length=length, prot=prot)


def _parse_touch(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=False)
    length = _length(a, addr)
    mode = a.need("read|write")
    if mode not in ("read", "write"):
        raise a.usage(f'expected "read" or "write", got "{mode}"')
    stride = PAGE_SIZE
    if a.more():
        tok = a.need("option")
        if tok != "stride":
            raise a.usage(f'unexpected "{tok}"')
        stride = a.value("N", _size)
        if stride <= 0 or stride % 4:
            raise a.fail("stride", f"{stride} must be a positive multiple of 4")
        if stride > PAGE_OFFSET:
            raise a.fail("stride", f"{stride:#x} is larger than user space ({PAGE_OFFSET:#x})")
    a.done()
    return TouchOp(text=text, addr=addr, length=length, write=mode == "write", stride=stride)


#: Largest ``repeat`` and ``speed`` of a replay.
MAX_REPLAY_REPEAT: Final = 1_000_000
MAX_REPLAY_SPEED: Final = 1_000_000
TRACE_RE: Final = re.compile(r"[A-Za-z0-9_.\-/]+")


def _parse_replay(text: str, a: _Args) -> Op:
    tok = a.need("TRACE")
    if len(tok) >= 2 and tok[0] == tok[-1] == '"':
        tok = tok[1:-1]
    if not TRACE_RE.fullmatch(tok):
        raise a.fail("TRACE", f'"{tok}" is not a trace name or path (letters, digits, "_", '
                              f'".", "-", "/")')
    opts = {"repeat": 1, "speed": 1}
    seen: set[str] = set()
    while a.more():
        key = a.need("option")
        if key not in opts:
            raise a.usage(f'unexpected "{key}"')
        if key in seen:
            raise a.usage(f'"{key}" given twice')
        seen.add(key)
        value = a.value("N" if key == "repeat" else "F", _count)
        high = MAX_REPLAY_REPEAT if key == "repeat" else MAX_REPLAY_SPEED
        if not 1 <= value <= high:
            raise a.fail(key, f"{value} is not between 1 and {high}")
        opts[key] = value
    return ReplayOp(text=text, trace=tok, repeat=opts["repeat"], speed=opts["speed"])


def _parse_store(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=False)
    value = _u32(a, "VALUE")
    a.done()
    return StoreOp(text=text, addr=addr, value=value)


def _parse_load(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=False)
    expect: int | None = None
    if a.more():
        tok = a.need("option")
        if tok != "expect":
            raise a.usage(f'unexpected "{tok}"')
        expect = _u32(a, "VALUE")
    a.done()
    return LoadOp(text=text, addr=addr, expect=expect)


def _parse_open(text: str, a: _Args) -> Op:
    path = _path(a)
    create = trunc = False
    while a.more():
        tok = a.need("option")
        if tok == "create" and not create:
            create = True
        elif tok == "trunc" and not trunc:
            trunc = True
        elif tok in ("create", "trunc"):
            raise a.usage(f'"{tok}" given twice')
        else:
            raise a.usage(f'unexpected "{tok}"')
    return OpenOp(text=text, path=path, create=create, trunc=trunc)


def _parse_rw(text: str, a: _Args) -> Op:
    path = _path(a)
    off_tok = a.need("OFF")
    offset = POS
    if off_tok != "pos":
        a.pos -= 1
        offset = a.value("OFF", _size)
    length = _length(a)
    if length > MAX_RW_BYTES:
        raise a.fail("LEN", f"{length} is more than one {a.verb} moves ({MAX_RW_BYTES}, "
                            f"SSIZE_MAX on i386)")
    count, how = 1, ""
    if a.more():
        tok = a.need("option")
        if tok != "x":
            raise a.usage(f'unexpected "{tok}"')
        count = a.value("COUNT", _count)
        if count < 1 or count > MAX_REPEAT:
            raise a.fail("COUNT", f"{count} is not between 1 and {MAX_REPEAT} (use a loop "
                                  f"for more)")
        if a.more():
            how = a.need("random|seq")
            if how not in ("random", "seq"):
                raise a.usage(f'expected "random" or "seq" after the count, got "{how}"')
    a.done()
    if how == "random" and offset == POS:
        raise a.usage('"random" offsets need a starting OFF, not "pos"')
    end = offset + length * (1 if how == "random" else count)
    if offset != POS and end - 1 > MAX_FILE_SIZE:
        raise a.fail("OFF", f"the {a.verb} ends at {end:#x}, beyond the largest file "
                            f"({MAX_FILE_SIZE + 1:#x}, MAX_LFS_FILESIZE)")
    cls = ReadOp if a.verb == "read" else WriteOp
    return cls(text=text, path=path, offset=offset, length=length, count=count,
               random=how == "random")


def _parse_path_only(text: str, a: _Args) -> Op:
    path = _path(a)
    a.done()
    if a.verb == "close":
        return CloseOp(text=text, path=path)
    if a.verb == "unlink":
        return UnlinkOp(text=text, path=path)
    return FsyncOp(text=text, path=path, datasync=a.verb == "fdatasync")


def _parse_no_args(text: str, a: _Args) -> Op:
    a.done()
    if a.verb == "sync":
        return SyncOp(text=text)
    if a.verb == "wait":
        return WaitOp(text=text)
    if a.verb == "end":
        return EndOp(text=text)
    return VerifyOp(text=text)


def _parse_truncate(text: str, a: _Args) -> Op:
    path = _path(a)
    length = a.value("LEN", _size)
    if length > MAX_FILE_SIZE:
        raise a.fail("LEN", f"{length:#x} is beyond the largest file ({MAX_FILE_SIZE:#x})")
    a.done()
    return TruncateOp(text=text, path=path, length=length)


def _parse_msync(text: str, a: _Args) -> Op:
    addr = _addr(a, page_aligned=True)
    length = _length(a, addr)
    mode = "sync"
    if a.more():
        mode = a.need("sync|async")
        if mode not in ("sync", "async"):
            raise a.usage(f'expected "sync" or "async", got "{mode}"')
    a.done()
    return MsyncOp(text=text, addr=addr, length=length, sync=mode == "sync")


#: fadvise's ADVICE words -> POSIX_FADV_* (include/linux/fadvise.h).
FADVISE_ADVICE: Final[dict[str, int]] = {
    "normal": 0,
    "random": 1,
    "sequential": 2,
    "willneed": 3,
    "dontneed": 4,
    "noreuse": 5,
}


def _parse_fadvise(text: str, a: _Args) -> Op:
    path = _path(a)
    advice = a.need("ADVICE")
    if advice not in FADVISE_ADVICE:
        raise a.usage(f'expected one of {"|".join(FADVISE_ADVICE)}, got "{advice}"')
    a.done()
    return FadviseOp(text=text, path=path, advice=advice)


def _parse_fork(text: str, a: _Args) -> Op:
    program = _name(a, "PROGRAM")
    a.done()
    return ForkOp(text=text, program=program)


def _parse_exit(text: str, a: _Args) -> Op:
    code = 0
    if a.more():
        code = a.value("CODE", lambda x: parse_int(x, "exit code"))
        if code > 255:
            raise a.fail("CODE", f"{code} is not between 0 and 255")
    a.done()
    return ExitOp(text=text, code=code)


def _parse_time(text: str, a: _Args) -> Op:
    ns = a.value("DURATION", parse_duration)
    a.done()
    if a.verb == "sleep":
        return SleepOp(text=text, ns=ns)
    if ns <= 0:
        raise a.fail("DURATION", "must be greater than 0")
    return ComputeOp(text=text, ns=ns)


def _parse_loop(text: str, a: _Args) -> Op:
    count = a.value("N", _count)
    a.done()
    if count < 1 or count > MAX_LOOP_COUNT:
        raise a.fail("N", f"{count} is not between 1 and {MAX_LOOP_COUNT} (2^32-1)")
    return LoopOp(text=text, count=count)


def _parse_checkpoint(text: str, a: _Args) -> Op:
    tok = a.need("NAME")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", tok):
        raise a.fail("NAME", f'"{tok}" is not a name (letters, digits, "_", ".", "-")')
    if tok == POWER_CUT:
        raise a.fail("NAME", f'"{POWER_CUT}" is recorded by "powercut"; choose another name')
    a.done()
    return CheckpointOp(text=text, name=tok)


def _point(a: _Args) -> str:
    """``at POINT``: a named preemption point of the kernel model."""
    tok = a.need('"at"')
    if tok != "at":
        raise a.usage(f'expected "at" after the task, got "{tok}"')
    point = a.need("POINT")
    if point not in PREEMPT_POINTS:
        close = difflib.get_close_matches(point, list(PREEMPT_POINTS), n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise a.fail("POINT", f'unknown preemption point "{point}" ({hint}expected one of: '
                              f'{", ".join(PREEMPT_POINTS)})')
    return point


def _parse_debug(text: str, a: _Args) -> Op:
    """``break``, ``await``, ``continue``: the scenario debugger's ops on a named task."""
    task = _name(a, "TASK")
    if a.verb == "continue":
        a.done()
        return ContinueOp(text=text, task=task)
    if a.verb == "break":
        point = _point(a)
        a.done()
        return BreakOp(text=text, task=task, point=point)
    point = _point(a) if a.more() else ""
    a.done()
    return AwaitOp(text=text, task=task, point=point)


def _parse_powercut(text: str, a: _Args) -> Op:
    a.done()
    return PowerCutOp(text=text)


_PARSERS: Final[dict[str, Callable[[str, _Args], Op]]] = {
    "mmap": _parse_mmap,
    "munmap": _parse_munmap,
    "mprotect": _parse_mprotect,
    "touch": _parse_touch,
    "replay": _parse_replay,
    "store": _parse_store,
    "load": _parse_load,
    "open": _parse_open,
    "close": _parse_path_only,
    "read": _parse_rw,
    "write": _parse_rw,
    "fsync": _parse_path_only,
    "fdatasync": _parse_path_only,
    "sync": _parse_no_args,
    "truncate": _parse_truncate,
    "unlink": _parse_path_only,
    "msync": _parse_msync,
    "fadvise": _parse_fadvise,
    "fork": _parse_fork,
    "wait": _parse_no_args,
    "exit": _parse_exit,
    "sleep": _parse_time,
    "compute": _parse_time,
    "loop": _parse_loop,
    "end": _parse_no_args,
    "checkpoint": _parse_checkpoint,
    "verify": _parse_no_args,
    "break": _parse_debug,
    "await": _parse_debug,
    "continue": _parse_debug,
    "powercut": _parse_powercut,
}


def parse_op(text: str) -> Op:
    """Parse one op string into its typed record.

    Raises:
        OpError: an unknown op (with a did-you-mean and the list of ops), a missing or
            unexpected token (with the op's usage line), or a bad value.
    """
    toks = text.split()
    if not toks:
        raise OpError("empty op")
    verb = toks[0]
    parser = _PARSERS.get(verb)
    if parser is None:
        close = difflib.get_close_matches(verb, list(OP_USAGE), n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise OpError(f'unknown op "{verb}" ({hint}expected one of: {", ".join(OP_USAGE)})')
    return parser(" ".join(toks), _Args(verb, toks))


# --------------------------------------------------------------------------- checks


def op_insn_count(op: Op) -> int:
    """How many instructions ``op`` assembles to."""
    if isinstance(op, ReadOp | WriteOp):
        return op.count
    return 1


def check_program(ops: tuple[Op, ...] | list[Op]) -> None:
    """Check what spans ops: balanced loops (depth <= 16), unique checkpoint names, size.

    Raises:
        ProgramError: at the op concerned (index -1: the program as a whole).
    """
    stack: list[int] = []
    seen: dict[str, int] = {}
    total = 0
    for i, op in enumerate(ops):
        total += op_insn_count(op)
        if isinstance(op, LoopOp):
            stack.append(i)
            if len(stack) > MAX_LOOP_DEPTH:
                raise ProgramError(i, f"loops nest deeper than {MAX_LOOP_DEPTH}")
        elif isinstance(op, EndOp):
            if not stack:
                raise ProgramError(i, 'end: no "loop" to close')
            stack.pop()
        elif isinstance(op, CheckpointOp):
            if op.name in seen:
                raise ProgramError(i, f'checkpoint: "{op.name}" is already recorded by '
                                      f"op [{seen[op.name]}] of this program")
            seen[op.name] = i
    if stack:
        raise ProgramError(stack[-1], 'loop: no matching "end"')
    if total > MAX_PROGRAM_INSNS:
        raise ProgramError(-1, f"assembles to {total} instructions (limit "
                               f"{MAX_PROGRAM_INSNS}); use loops instead of large counts")
