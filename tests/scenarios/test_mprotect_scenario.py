"""The ``mprotect`` scenario op: parsing, assembly, loader errors, and a run on the real kernel
where a protection change is honoured, undone, and a forbidden access kills only its task."""

from __future__ import annotations

import pytest

from kernelmodel.include import syscall_abi as abi
from kernelmodel.include.vmstat import TR_MAP, TR_SEGV
from kernelmodel.mm.memory import EXIT_SIGSEGV
from machine.isa import OP_SYSCALL, Insn
from machine.state_generated import save_insn
from scenarios.assembler import assemble_program
from scenarios.loader import ScenarioError, load_text
from scenarios.ops import OpError, check_program, parse_op
from scenarios.schema import MprotectOp, Program
from scenarios.session import Session

BASE = 0x40000000

SCENARIO = """
name = "mprotect"
description = "a guard region made read-only, then writable again; a task touching PROT_NONE"
seed = 11
duration = "5s"

[machine]
memory = "8MiB"
disk = "32MiB"
swap = "4MiB"

[[tasks]]
name = "guard"
program = [
  "mmap 0x4000_0000 64KiB anon",
  "touch 0x4000_0000 64KiB write",
  "mprotect 0x4000_0000 16KiB r",
  "touch 0x4000_0000 16KiB read",
  "checkpoint readonly",
  "mprotect 0x4000_0000 16KiB rw",
  "touch 0x4000_0000 16KiB write",
  "verify",
]

[[tasks]]
name = "crash"
program = [
  "mmap 0x4000_0000 16KiB anon",
  "store 0x4000_0000 7",
  "mprotect 0x4000_0000 16KiB none",
  "load 0x4000_0000",
]

[[expect]]
at = "readonly"
check = "segfaults == 0"

[[expect]]
check = "segfaults == 1 and data_verified and invariants_ok and verify_failures == 0"
"""


def _asm(text: str) -> list[list[object]]:
    ops = (parse_op(text),)
    check_program(ops)
    prog = Program(name="p", ops=ops, where="programs.p")
    insns = assemble_program(prog, seed=1, owner="t", fork_ids={}, file_sizes={})
    return [save_insn(i) for i in insns]


@pytest.mark.parametrize(
    ("word", "prot"),
    [
        ("none", abi.PROT_NONE),
        ("r", abi.PROT_READ),
        ("ro", abi.PROT_READ),
        ("rw", abi.PROT_READ | abi.PROT_WRITE),
        ("rx", abi.PROT_READ | abi.PROT_EXEC),
        ("rwx", abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC),
    ],
)
def test_parse_and_assemble(word: str, prot: int) -> None:
    op = parse_op(f"mprotect 0x4000_0000 8KiB {word}")
    assert op == MprotectOp(text=f"mprotect 0x4000_0000 8KiB {word}", addr=BASE,
                            length=8192, prot=prot)
    want = save_insn(Insn(OP_SYSCALL, abi.SYS_mprotect, BASE, 8192, prot, ""))
    assert _asm(f"mprotect 0x4000_0000 8KiB {word}") == [want]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mprotect 0x4000_0000 4KiB rwz",
         'mprotect PROT: "rwz" is not one of: none, r, ro, rw, rx, rwx'),
        ("mprotect 0x4000_0000 4KiB",
         "mprotect: missing PROT (usage: mprotect ADDR LEN none|r|ro|rw|rx|rwx)"),
        ("mprotect 0x4000_0001 4KiB r",
         "mprotect ADDR: 0x40000001 is not page-aligned (4KiB)"),
        ("mprotect 0x4000_0000 4KiB r extra",
         'mprotect: unexpected "extra" (usage: mprotect ADDR LEN none|r|ro|rw|rx|rwx)'),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(OpError) as exc:
        parse_op(text)
    assert str(exc.value) == message


def test_loader_reports_a_bad_prot_with_its_location() -> None:
    bad = SCENARIO.replace('"mprotect 0x4000_0000 16KiB none"', '"mprotect 0x4000_0000 16KiB wx"')
    with pytest.raises(ScenarioError) as exc:
        load_text(bad, source="mprotect.toml")
    assert str(exc.value) == (
        'mprotect.toml: tasks[1].program[2]: mprotect PROT: "wx" is not one of: '
        "none, r, ro, rw, rx, rwx"
    )


def test_scenario_runs_and_the_forbidden_access_kills_only_its_task() -> None:
    s = Session(load_text(SCENARIO, source="mprotect.toml"))
    assert s.run() == "end"
    results = s.evaluate_expectations()
    assert all(r.ok for r in results), results
    k = s.kernel
    by_name = {t.name: t for t in k.tasks.values()}
    assert by_name["guard"].exit_code == 0
    assert by_name["crash"].exit_code == EXIT_SIGSEGV
    events = k.trace.since(0)
    segv = [e for e in events if e.kind == TR_SEGV]
    assert len(segv) == 1 and segv[0].pid == by_name["crash"].pid
    assert "PROT_NONE" in segv[0].s and segv[0].a == BASE
    maps = [e.s for e in events if e.kind == TR_MAP and e.s.startswith("mprotect")]
    assert len(maps) == 3 and all(m.endswith("-> 0") for m in maps)
    m = s.metrics()
    assert m["segfaults"] == 1 and m["data_verified"] == 1


def test_scenario_is_deterministic() -> None:
    a = Session(load_text(SCENARIO))
    b = Session(load_text(SCENARIO))
    a.run()
    b.run()
    assert a.state_hash() == b.state_hash()
