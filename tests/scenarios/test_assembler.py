"""Op parsing and assembly into instructions (scenarios/assembler.py)."""

from __future__ import annotations

import pytest

from kernelmodel.include import syscall_abi as abi
from machine.isa import (
    OP_COMPUTE,
    OP_ENDLOOP,
    OP_LOAD,
    OP_LOOP,
    OP_STORE,
    OP_SYSCALL,
    OP_TOUCH,
    TOUCH_WRITE,
    Insn,
)
from machine.state_generated import save_insn
from scenarios.assembler import assemble, assemble_program, derive_seed
from scenarios.loader import load_text
from scenarios.ops import MAX_REPEAT, OP_USAGE, OpError, ProgramError, check_program, parse_op
from scenarios.schema import POS, Program

SEED = 5
OWNER = "t"


def asm(*ops: str, sizes: dict[str, int] | None = None,
        fork_ids: dict[str, int] | None = None) -> list[list[object]]:
    parsed = tuple(parse_op(o) for o in ops)
    check_program(parsed)
    prog = Program(name="p", ops=parsed, where="programs.p")
    insns = assemble_program(prog, seed=SEED, owner=OWNER, fork_ids=fork_ids or {},
                             file_sizes=sizes or {})
    return [save_insn(i) for i in insns]


def sc(nr: int, b: int = 0, c: int = 0, d: int = 0, s: str = "") -> list[object]:
    return save_insn(Insn(OP_SYSCALL, nr, b, c, d, s))


MMAP_ANON = abi.vl_pack_mmap(abi.PROT_READ | abi.PROT_WRITE,
                             abi.MAP_FIXED | abi.MAP_PRIVATE | abi.MAP_ANONYMOUS, 0)


@pytest.mark.parametrize(
    ("op", "want"),
    [
        ("mmap 0x4000_0000 8MiB anon", sc(abi.SYS_mmap2, 0x40000000, 8 << 20, MMAP_ANON)),
        ("mmap 0x4000_0000 8MiB anon shared ro",
         sc(abi.SYS_mmap2, 0x40000000, 8 << 20, abi.vl_pack_mmap(
             abi.PROT_READ, abi.MAP_FIXED | abi.MAP_SHARED | abi.MAP_ANONYMOUS, 0))),
        ("mmap 0x5000_0000 1MiB data offset 64KiB shared rw",
         sc(abi.SYS_mmap2, 0x50000000, 1 << 20, abi.vl_pack_mmap(
             abi.PROT_READ | abi.PROT_WRITE, abi.MAP_FIXED | abi.MAP_SHARED, 16), "data")),
        ("munmap 0x4000_0000 4KiB", sc(abi.SYS_munmap, 0x40000000, 4096)),
        ("touch 0x1000 8KiB read", save_insn(Insn(OP_TOUCH, 0x1000, 8192, 4096, 0))),
        ("touch 0x1000 8KiB write stride 64",
         save_insn(Insn(OP_TOUCH, 0x1000, 8192, 64, TOUCH_WRITE))),
        ("store 0x1000 0xdead_beef", save_insn(Insn(OP_STORE, 0x1000, 0xDEADBEEF))),
        ("load 0x1004", save_insn(Insn(OP_LOAD, 0x1004, 0, 0))),
        ("load 0x1004 expect 7", save_insn(Insn(OP_LOAD, 0x1004, 7, 1))),
        ("load 0x1004 expect 0", save_insn(Insn(OP_LOAD, 0x1004, 0, 1))),
        ("open log", sc(abi.SYS_open, abi.O_RDWR, s="log")),
        ("open log create trunc",
         sc(abi.SYS_open, abi.O_RDWR | abi.O_CREAT | abi.O_TRUNC, s="log")),
        ("close log", sc(abi.SYS_close, s="log")),
        ("read log 4KiB 8KiB", sc(abi.SYS_read, 4096, 8192, s="log")),
        ("read log pos 8KiB", sc(abi.SYS_read, -1, 8192, s="log")),
        ("write log pos 1MiB",
         sc(abi.SYS_write, -1, 1 << 20, derive_seed(SEED, OWNER, "p", 0, 0), "log")),
        ("fsync log", sc(abi.SYS_fsync, s="log")),
        ("fdatasync log", sc(abi.SYS_fdatasync, s="log")),
        ("sync", sc(abi.SYS_sync)),
        ("truncate log 0", sc(abi.SYS_ftruncate, 0, s="log")),
        ("truncate log 12KiB", sc(abi.SYS_ftruncate, 12288, s="log")),
        ("unlink log", sc(abi.SYS_unlink, s="log")),
        ("msync 0x4000_0000 4KiB", sc(abi.SYS_msync, 0x40000000, 4096, abi.MS_SYNC)),
        ("msync 0x4000_0000 4KiB async", sc(abi.SYS_msync, 0x40000000, 4096, abi.MS_ASYNC)),
        ("fadvise log dontneed", sc(abi.SYS_fadvise64, 0, 0, 4, s="log")),
        ("fadvise log normal", sc(abi.SYS_fadvise64, 0, 0, 0, s="log")),
        ("fadvise log noreuse", sc(abi.SYS_fadvise64, 0, 0, 5, s="log")),
        ("wait", sc(abi.VL_WAIT_CHILDREN)),
        ("exit", sc(abi.SYS_exit, 0)),
        ("exit 3", sc(abi.SYS_exit, 3)),
        ("sleep 300ms", sc(abi.SYS_nanosleep, 300_000_000)),
        ("compute 2.5s", save_insn(Insn(OP_COMPUTE, 2_500_000_000))),
        ("checkpoint synced", sc(abi.VL_CHECKPOINT, s="synced")),
        ("verify", sc(abi.VL_VERIFY)),
    ],
)
def test_single_op(op: str, want: list[object]) -> None:
    assert asm(op) == [want]


def test_every_op_is_covered() -> None:
    assert set(OP_USAGE) == {
        "mmap", "munmap", "mprotect", "touch", "store", "load", "open", "close", "read",
        "write", "fsync",
        "fdatasync", "sync", "truncate", "unlink", "msync", "fadvise", "fork", "wait", "exit",
        "sleep",
        "compute", "loop", "end", "checkpoint", "verify", "break", "await", "continue",
        "powercut", "replay",
    }


def test_fork_resolves_program_id() -> None:
    assert asm("fork child", fork_ids={"child": 3}) == [sc(abi.SYS_fork, 3)]


def test_loops_resolve_indices() -> None:
    got = asm("loop 3", "sync", "loop 2", "compute 1ms", "end", "end", "verify")
    assert got == [
        save_insn(Insn(OP_LOOP, 3, 5)),
        sc(abi.SYS_sync),
        save_insn(Insn(OP_LOOP, 2, 4)),
        save_insn(Insn(OP_COMPUTE, 1_000_000)),
        save_insn(Insn(OP_ENDLOOP, 2)),
        save_insn(Insn(OP_ENDLOOP, 0)),
        sc(abi.VL_VERIFY),
    ]


def test_loop_indices_count_expanded_instructions() -> None:
    got = asm("loop 2", "write f pos 4KiB x 3", "end")
    assert got[0][:3] == [OP_LOOP, 2, 4]
    assert got[4][:2] == [OP_ENDLOOP, 0]


def test_seq_writes_are_consecutive_with_distinct_seeds() -> None:
    got = asm("write log 8KiB 4KiB x 3 seq")
    assert [i[2] for i in got] == [8192, 12288, 16384]
    assert [i[4] for i in got] == [derive_seed(SEED, OWNER, "p", 0, r) for r in range(3)]
    assert len({i[4] for i in got}) == 3


def test_reads_x_count_default_sequential() -> None:
    got = asm("read log 0 64KiB x 4")
    assert [i[2] for i in got] == [0, 65536, 131072, 196608]
    assert all(i[1] == abi.SYS_read and i[3] == 65536 for i in got)


def test_random_offsets_page_aligned_within_file_and_deterministic() -> None:
    size = 1 << 20
    got = asm("write log 8KiB 8KiB x 200 random", sizes={"log": size})
    offsets = [i[2] for i in got]
    assert all(isinstance(o, int) and o >= 8192 and (o - 8192) % 4096 == 0 and o + 8192 <= size
               for o in offsets)
    assert len(set(offsets)) > 100
    assert asm("write log 8KiB 8KiB x 200 random", sizes={"log": size}) == got
    reads = asm("read log 8KiB 8KiB x 200 random", sizes={"log": size})
    assert [i[2] for i in reads] == offsets  # same op position, same offsets


def test_random_single_slot() -> None:
    got = asm("write log 0 4KiB x 5 random", sizes={"log": 4096})
    assert [i[2] for i in got] == [0] * 5


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ("", "empty op"),
        ("mmap 0x1000 4KiB anon offset 4KiB",
         'mmap: "offset" needs a file mapping, not "anon" (usage: mmap ADDR LEN anon|FILE '
         "[offset OFF] [shared|private] [ro|rw])"),
        ("mmap 0x1000 4KiB anon shared private",
         'mmap: "shared" and "private" cannot both be given (usage: mmap ADDR LEN anon|FILE '
         "[offset OFF] [shared|private] [ro|rw])"),
        ("mmap 0x1000 4KiB f offset 100", "mmap OFF: 0x64 is not page-aligned (4KiB)"),
        ("mmap 0xBFFF_F000 8KiB anon",
         "mmap LEN: 0xbffff000 + 0x2000 runs past the end of user space (0xc0000000)"),
        ("touch 0x1002 4KiB read",
         "touch ADDR: 0x1002 is not 4-byte aligned (accesses are 32-bit words)"),
        ("touch 0x1000 4KiB sideways",
         'touch: expected "read" or "write", got "sideways" (usage: touch ADDR LEN '
         "read|write [stride N])"),
        ("touch 0x1000 4KiB read stride 6", "touch stride: 6 must be a positive multiple of 4"),
        ("store 0x1000 0x1_0000_0000", "store VALUE: 0x100000000 does not fit in 32 bits"),
        ("load 0x1000 want 3",
         'load: unexpected "want" (usage: load ADDR [expect VALUE])'),
        ("open log create create",
         'open: "create" given twice (usage: open PATH [create] [trunc])'),
        ("open log,x", 'open PATH: "log,x" is not a file name (letters, digits, "_", ".", '
                       '"-", "/")'),
        ("write log pos 4KiB x 4 random",
         'write: "random" offsets need a starting OFF, not "pos" (usage: write PATH OFF|pos '
         "LEN [x COUNT [random|seq]])"),
        ("write log 0 4KiB x 0", f"write COUNT: 0 is not between 1 and {MAX_REPEAT} "
                                 f"(use a loop for more)"),
        ("write log 0 4KiB y 2", 'write: unexpected "y" (usage: write PATH OFF|pos LEN '
                                 "[x COUNT [random|seq]])"),
        ("write log 0 4KiB x 2 shuffled",
         'write: expected "random" or "seq" after the count, got "shuffled" (usage: write '
         "PATH OFF|pos LEN [x COUNT [random|seq]])"),
        ("msync 0x1000 4KiB later", 'msync: expected "sync" or "async", got "later" '
                                    "(usage: msync ADDR LEN [sync|async])"),
        ("fadvise log later",
         'fadvise: expected one of normal|random|sequential|willneed|dontneed|noreuse, got '
         '"later" (usage: fadvise PATH dontneed|normal|random|sequential|willneed|noreuse)'),
        ("fadvise log", "fadvise: missing ADVICE (usage: fadvise PATH "
                        "dontneed|normal|random|sequential|willneed|noreuse)"),
        ("fork 9lives", 'fork PROGRAM: "9lives" is not a name (a letter or "_", then letters, '
                        'digits, "_", ".", "-")'),
        ("exit 256", "exit CODE: 256 is not between 0 and 255"),
        ("sleep 5", 'sleep DURATION: duration "5" needs a unit (ns, us, ms, s, min)'),
        ("compute 0s", "compute DURATION: must be greater than 0"),
        ("loop 0", "loop N: 0 is not between 1 and 4294967295 (2^32-1)"),
        ("checkpoint a b", 'checkpoint: unexpected "b" (usage: checkpoint NAME)'),
        ("sync now", 'sync: unexpected "now" (usage: sync)'),
    ],
)
def test_op_errors(op: str, message: str) -> None:
    with pytest.raises(OpError) as exc:
        parse_op(op)
    assert str(exc.value) == message


def test_program_too_large() -> None:
    ops = tuple(parse_op(f"write f pos 4KiB x {MAX_REPEAT}") for _ in range(11))
    with pytest.raises(ProgramError) as exc:
        check_program(ops)
    assert exc.value.index == -1
    assert "assembles to 1100000 instructions (limit 1000000)" in str(exc.value)


def test_loop_depth_limit() -> None:
    ops = tuple(parse_op("loop 2") for _ in range(17))
    with pytest.raises(ProgramError) as exc:
        check_program(ops)
    assert exc.value.index == 16
    assert str(exc.value) == "loops nest deeper than 16"


SCENARIO = """
seed = 9
[[files]]
path = "f"
size = "1MiB"

[[tasks]]
name = "a"
program = "worker"
[[tasks]]
name = "b"
program = "worker"
[[tasks]]
name = "solo"
program = "solo"

[programs]
worker = ["open f", "write f 0 4KiB x 4 random", "fork child", "wait"]
solo = ["open f", "write f 0 4KiB x 4 random"]
child = ["write f pos 4KiB", "fork grandchild"]
grandchild = ["write f pos 4KiB"]
unused = ["fork never"]
never = ["sync"]
"""


def test_assemble_scenario_order_and_ids() -> None:
    s = load_text(SCENARIO)
    a = assemble(s)
    names = [(p.name, p.program, p.owner) for p in a.programs]
    assert names == [
        ("child", "child", "child"),
        ("grandchild", "grandchild", "grandchild"),
        ("worker@a", "worker", "a"),
        ("worker@b", "worker", "b"),
        ("solo", "solo", "solo"),
    ]
    assert a.tasks == [("a", 2), ("b", 3), ("solo", 4)]
    worker = a.programs[2].insns
    assert worker[5].op == OP_SYSCALL and worker[5].a == abi.SYS_fork and worker[5].b == 0
    assert a.programs[0].insns[1].b == 1  # child forks grandchild


def test_two_tasks_running_one_program_write_different_bytes() -> None:
    a = assemble(load_text(SCENARIO))
    wa = [i for i in a.programs[2].insns if i.a == abi.SYS_write]
    wb = [i for i in a.programs[3].insns if i.a == abi.SYS_write]
    assert [i.d for i in wa] != [i.d for i in wb]
    assert [i.b for i in wa] != [i.b for i in wb]


def test_assembly_depends_on_seed_only() -> None:
    s = load_text(SCENARIO)
    one = [[save_insn(i) for i in p.insns] for p in assemble(s).programs]
    two = [[save_insn(i) for i in p.insns] for p in assemble(s).programs]
    other = [[save_insn(i) for i in p.insns] for p in assemble(s, seed=10).programs]
    assert one == two
    assert one != other


def test_derive_seed_is_stable() -> None:
    assert derive_seed(1, "a", 2) == derive_seed(1, "a", 2)
    assert derive_seed(1, "a", 2) != derive_seed(1, "a", 3)
    assert 0 <= derive_seed(123, "x") < 1 << 63


def test_pos_constant() -> None:
    assert POS == -1
