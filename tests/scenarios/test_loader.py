"""Loading and validating scenario files (scenarios/loader.py): defaults and exact errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios.loader import ScenarioError, load_path, load_text
from scenarios.schema import (
    CheckpointOp,
    FsyncOp,
    KernelSpec,
    MachineSpec,
    OpenOp,
    TunablesSpec,
    WriteOp,
)

GOOD = """
name = "fsync-race"
description = "a test"
seed = 42
duration = "30s"

[machine]
memory = "32MiB"

[[files]]
path = "log"
size = "8MiB"
content = "random"

[[tasks]]
name = "writer"
program = "writer"

[programs]
writer = [
  "open log",
  "write log 0 4KiB x 16 random",
  "fsync log",
  "checkpoint synced",
  "close log",
]

[[expect]]
at = "synced"
check = "nr_dirty == 0"
"""


def load(text: str) -> object:
    return load_text(text, source="fsync-race.toml")


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        load_text(text, source="fsync-race.toml")
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_good_scenario() -> None:
    s = load_text(GOOD, source="fsync-race.toml")
    assert s.name == "fsync-race"
    assert s.source == "fsync-race.toml"
    assert s.seed == 42
    assert s.duration_ns == 30_000_000_000
    assert s.kernel == KernelSpec(profile="2.6.7", writeback="tags", rmap="anon_vma")
    assert s.machine == MachineSpec(memory=32 << 20)
    assert s.tunables == TunablesSpec()
    assert s.files[0].path == "log" and s.files[0].size == 8 << 20
    assert s.files[0].content == "random" and s.files[0].seed is None
    assert [t.name for t in s.tasks] == ["writer"]
    ops = s.programs["writer"].ops
    assert isinstance(ops[0], OpenOp)
    assert isinstance(ops[1], WriteOp) and ops[1].count == 16 and ops[1].random
    assert isinstance(ops[2], FsyncOp)
    assert isinstance(ops[3], CheckpointOp) and ops[3].name == "synced"
    assert s.checkpoint_names() == ["synced"]
    assert s.expectations[0].at == "synced"
    assert s.expectations[0].name == "synced: nr_dirty == 0"


def test_defaults() -> None:
    s = load_text('[[tasks]]\nprogram = ["sync"]\n', source="x.toml", default_name="x")
    assert s.name == "x"
    assert s.description == ""
    assert s.seed == 0
    assert s.duration_ns == 60_000_000_000
    assert s.machine == MachineSpec(memory=64 << 20, disk=1 << 30, swap=128 << 20,
                                    tlb_entries=64, elevator="deadline")
    assert s.tunables == TunablesSpec(dirty_background_ratio=10, dirty_ratio=40,
                                      dirty_writeback_centisecs=500,
                                      dirty_expire_centisecs=3000, swappiness=60)
    assert s.tasks[0].name == "task0" and s.tasks[0].program == "task0"
    assert s.programs["task0"].where == "tasks[0].program"


def test_kernel_profiles_and_table() -> None:
    base = '[[tasks]]\nprogram = ["sync"]\n'
    assert load_text('kernel = "2.6.5"\n' + base).kernel == KernelSpec(
        profile="2.6.5", writeback="lists", rmap="pte_chain", swapin="2.6.6")
    assert load_text('kernel = "2.6.6"\n' + base).kernel == KernelSpec(
        profile="2.6.6", writeback="tags", rmap="pte_chain", swapin="2.6.6")
    k = load_text('kernel = {profile = "2.6.7", rmap = "anonmm"}\n' + base).kernel
    assert k == KernelSpec(profile="2.6.7", writeback="tags", rmap="anonmm")
    k = load_text('[kernel]\nwriteback = "lists"\n' + base).kernel
    assert k == KernelSpec(profile="2.6.7", writeback="lists", rmap="anon_vma")
    k = load_text('kernel = {profile = "2.6.6", swapin = "2.6.7"}\n' + base).kernel
    assert k == KernelSpec(profile="2.6.6", writeback="tags", rmap="pte_chain", swapin="2.6.7")
    k = load_text('kernel = {profile = "2.6.7", swapin = "2.6.6"}\n' + base).kernel
    assert k == KernelSpec(profile="2.6.7", writeback="tags", rmap="anon_vma", swapin="2.6.6")


def test_kernel_vmscan_switch() -> None:
    base = '[[tasks]]\nprogram = ["sync"]\n'
    # each profile's own reclaim: 2.6.7 rewrote mm/vmscan.c, 2.6.5 has 2.6.6's structure
    assert [load_text(f'kernel = "{p}"\n' + base).kernel.vmscan
            for p in ("2.6.5", "2.6.6", "2.6.7")] == ["2.6.6", "2.6.6", "2.6.7"]
    k = load_text('kernel = {profile = "2.6.7", vmscan = "2.6.6"}\n' + base).kernel
    assert k == KernelSpec(profile="2.6.7", writeback="tags", rmap="anon_vma", vmscan="2.6.6")
    assert KernelSpec(profile="2.6.5").vmscan == "2.6.6"  # never another release's by default
    with pytest.raises(ScenarioError,
                       match=re.escape('kernel.vmscan: "2.6.8" is not one of: 2.6.6, 2.6.7')):
        load_text('kernel = {profile = "2.6.7", vmscan = "2.6.8"}\n' + base)


def test_single_expect_table_and_named_expectation() -> None:
    text = GOOD.replace('[[expect]]\nat = "synced"', '[expect]\nname = "clean"\nat = "synced"')
    s = load_text(text)
    assert s.expectations[0].name == "clean"


def test_load_path_names_file(tmp_path: Path) -> None:
    p = tmp_path / "my-scenario.toml"
    p.write_text('[[tasks]]\nprogram = ["sync"]\n')
    s = load_path(p)
    assert s.name == "my-scenario" and s.source == "my-scenario.toml"
    with pytest.raises(ScenarioError, match=r"^missing\.toml: cannot read .*missing\.toml: "):
        load_path(tmp_path / "missing.toml")


def _sub(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


OPS = ("mmap, munmap, mprotect, touch, replay, store, load, open, close, read, write, fsync, "
       "fdatasync, sync, truncate, unlink, msync, fadvise, fork, wait, exit, sleep, compute, loop, "
       "end, checkpoint, verify, break, await, continue, powercut")

BAD: list[tuple[str, str, str]] = [
    ("unknown-op",
     _sub('"fsync log"', '"fsyn log"'),
     f'fsync-race.toml: programs.writer[2]: unknown op "fsyn" (did you mean "fsync"? '
     f"expected one of: {OPS})"),
    ("unknown-op-no-suggestion",
     _sub('"fsync log"', '"xyzzy log"'),
     f'fsync-race.toml: programs.writer[2]: unknown op "xyzzy" (expected one of: {OPS})'),
    ("unknown-op-inline-task",
     '[[tasks]]\nname = "a"\nprogram = ["sync"]\n[[tasks]]\nname = "b"\n'
     'program = ["sync", "wait", "sync", "fsyn x"]\n',
     f'fsync-race.toml: tasks[1].program[3]: unknown op "fsyn" (did you mean "fsync"? '
     f"expected one of: {OPS})"),
    ("unknown-top-key",
     _sub("seed = 42", "sed = 42"),
     'fsync-race.toml: unknown key "sed" (did you mean "seed"?)'),
    ("unknown-machine-key",
     _sub('memory = "32MiB"', 'memroy = "32MiB"'),
     'fsync-race.toml: machine: unknown key "memroy" (did you mean "memory"?)'),
    ("unknown-key-no-suggestion",
     _sub('memory = "32MiB"', 'colour = "red"'),
     'fsync-race.toml: machine: unknown key "colour" (expected one of: memory, disk, swap, '
     "tlb_entries, elevator)"),
    ("bad-size-unit",
     _sub('memory = "32MiB"', 'memory = "32MB"'),
     'fsync-race.toml: machine.memory: "32MB": unknown size unit "MB" (did you mean "MiB"? '
     "sizes use B, KiB, MiB, GiB, TiB)"),
    ("memory-too-small",
     _sub('memory = "32MiB"', 'memory = "1MiB"'),
     "fsync-race.toml: machine.memory: 1048576 bytes is not a multiple of 4KiB between 4MiB "
     "and 4GiB"),
    ("tlb-not-power-of-two",
     _sub('memory = "32MiB"', "tlb_entries = 48"),
     "fsync-race.toml: machine.tlb_entries: 48 is not a power of two"),
    ("bad-elevator",
     _sub('memory = "32MiB"', 'elevator = "deadlin"'),
     'fsync-race.toml: machine.elevator: "deadlin" is not one of: noop, deadline '
     '(did you mean "deadline"?)'),
    ("duration-without-unit",
     _sub('duration = "30s"', "duration = 30"),
     'fsync-race.toml: duration: duration 30 needs a unit: write it as a string such as '
     '"30ms" (ns, us, ms, s, min)'),
    ("unknown-profile",
     _sub('seed = 42', 'seed = 42\nkernel = "2.6.8"'),
     'fsync-race.toml: kernel: "2.6.8" is not one of: 2.6.5, 2.6.6, 2.6.7 '
     '(did you mean "2.6.7"?)'),
    ("unknown-rmap",
     _sub('seed = 42', 'seed = 42\nkernel = {rmap = "objrmap"}'),
     'fsync-race.toml: kernel.rmap: "objrmap" is not one of: anon_vma, pte_chain, anonmm'),
    ("tunable-out-of-range",
     _sub("[[files]]", "[tunables]\ndirty_ratio = 140\n\n[[files]]"),
     "fsync-race.toml: tunables.dirty_ratio: 140 is outside 0..100"),
    ("bad-content",
     _sub('content = "random"', 'content = "ones"'),
     'fsync-race.toml: files[0].content: "ones" is not one of: zero, pattern, random, sparse'),
    ("files-as-table",
     _sub("[[files]]", "[files]"),
     "fsync-race.toml: files: expected an array of tables: write [[files]], not [files]"),
    ("duplicate-file",
     _sub("[[tasks]]", '[[files]]\npath = "log"\nsize = 0\n\n[[tasks]]'),
     'fsync-race.toml: files[1].path: "log" is declared twice'),
    ("files-exceed-disk",
     _sub('memory = "32MiB"', 'memory = "32MiB"\ndisk = "136MiB"'),
     "fsync-race.toml: files: the files need 8MiB but the filesystem holds 8188KiB (the disk "
     "minus swap and the superblock)"),
    ("swap-exceeds-disk",
     _sub('memory = "32MiB"', 'memory = "32MiB"\ndisk = "64MiB"'),
     "fsync-race.toml: machine.swap: 128MiB of swap does not fit on a 64MiB disk (swap is "
     "the end of the disk)"),
    ("unknown-file",
     _sub('"fsync log"', '"fsync lgo"'),
     'fsync-race.toml: programs.writer[2]: fsync: no file "lgo" in [[files]] and no '
     '"open lgo create" in any program (did you mean "log"?)'),
    ("not-open",
     _sub('"open log",', ""),
     'fsync-race.toml: programs.writer[0]: write: "log" is not open here (add "open log" '
     "before this op)"),
    ("missing-token",
     _sub('"write log 0 4KiB x 16 random"', '"write log 0"'),
     "fsync-race.toml: programs.writer[1]: write: missing LEN (usage: write PATH OFF|pos LEN "
     "[x COUNT [random|seq]])"),
    ("unexpected-token",
     _sub('"fsync log"', '"fsync log now"'),
     'fsync-race.toml: programs.writer[2]: fsync: unexpected "now" (usage: fsync PATH)'),
    ("bad-op-size",
     _sub('"write log 0 4KiB x 16 random"', '"write log 0 4kb"'),
     'fsync-race.toml: programs.writer[1]: write LEN: "4kb": unknown size unit "kb" '
     '(did you mean "KiB"? sizes use B, KiB, MiB, GiB, TiB)'),
    ("random-beyond-file",
     _sub('"write log 0 4KiB x 16 random"', '"write log 8MiB 4KiB x 16 random"'),
     'fsync-race.toml: programs.writer[1]: write: OFF + LEN (8392704) is beyond the size of '
     '"log" (8388608)'),
    ("unaligned-mmap",
     _sub('"fsync log"', '"mmap 0x1001 4KiB anon"'),
     "fsync-race.toml: programs.writer[2]: mmap ADDR: 0x1001 is not page-aligned (4KiB)"),
    ("kernel-address",
     _sub('"fsync log"', '"touch 0xC000_0000 4KiB read"'),
     "fsync-race.toml: programs.writer[2]: touch ADDR: 0xc0000000 is not a user address "
     "(user space ends at 0xc0000000)"),
    ("zero-length",
     _sub('"fsync log"', '"munmap 0x1000 0"'),
     "fsync-race.toml: programs.writer[2]: munmap LEN: must be greater than 0"),
    ("unbalanced-loop",
     _sub('"fsync log"', '"loop 3"'),
     'fsync-race.toml: programs.writer[2]: loop: no matching "end"'),
    ("end-without-loop",
     _sub('"fsync log"', '"end"'),
     'fsync-race.toml: programs.writer[2]: end: no "loop" to close'),
    ("duplicate-checkpoint",
     _sub('"close log"', '"checkpoint synced"'),
     'fsync-race.toml: programs.writer[4]: checkpoint: "synced" is already recorded by op [3] '
     "of this program"),
    ("fork-unknown-program",
     _sub('"fsync log"', '"fork writr"'),
     'fsync-race.toml: programs.writer[2]: fork: no program named "writr" '
     '(did you mean "writer"?)'),
    ("task-unknown-program",
     _sub('program = "writer"', 'program = "wrtier"'),
     'fsync-race.toml: tasks[0].program: no program named "wrtier" (did you mean "writer"?)'),
    ("no-tasks",
     'seed = 1\n',
     "fsync-race.toml: no [[tasks]]: a scenario needs at least one task"),
    ("duplicate-task",
     _sub('[[tasks]]\nname = "writer"\nprogram = "writer"',
          '[[tasks]]\nprogram = "writer"\n[[tasks]]\nprogram = "writer"'),
     'fsync-race.toml: tasks[1].name: "writer" is already the name of another task '
     '(give each task its own "name")'),
    ("empty-program",
     _sub("[programs]", "[programs]\nidle = []"),
     "fsync-race.toml: programs.idle: the program has no ops"),
    ("op-not-string",
     _sub('"fsync log",', "42,"),
     "fsync-race.toml: programs.writer[2]: expected an op string, not an integer"),
    ("unknown-metric",
     _sub('check = "nr_dirty == 0"', 'check = "nr_dirtty == 0"'),
     'fsync-race.toml: expect[0].check: unknown metric "nr_dirtty" (did you mean "nr_dirty"?)'),
    ("bad-comparison",
     _sub('check = "nr_dirty == 0"', 'check = "nr_dirty = 0"'),
     'fsync-race.toml: expect[0].check: "=" is not a comparison; write "==" after "nr_dirty"'),
    ("unknown-checkpoint",
     _sub('at = "synced"', 'at = "sync"'),
     'fsync-race.toml: expect[0].at: no checkpoint named "sync" (use "end" or a checkpoint a '
     'program records) (did you mean "synced"?)'),
    ("missing-check",
     _sub('check = "nr_dirty == 0"', ""),
     'fsync-race.toml: expect[0]: missing "check" (for example: check = "nr_dirty == 0")'),
    ("wrong-type",
     _sub('description = "a test"', "description = 3"),
     "fsync-race.toml: description: expected a string, not an integer"),
    ("toml-syntax",
     _sub('seed = 42', 'seed = = 42'),
     "fsync-race.toml: invalid TOML: Invalid value (at line 4, column 8)"),
    ("inline-program-name-clash",
     _sub('program = "writer"', 'program = ["sync"]'),
     'fsync-race.toml: tasks[0].program: an inline program takes the task\'s name "writer", '
     "which programs.writer already has"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_input_gives_exact_one_line_error(text: str, message: str) -> None:
    assert error_of(text) == message


def test_error_cases_are_distinct() -> None:
    messages = [m for _, _, m in BAD]
    assert len(set(messages)) == len(messages) >= 15


def test_scenario_error_fields() -> None:
    with pytest.raises(ScenarioError) as exc:
        load(_sub("seed = 42", "sed = 42"))
    assert exc.value.source == "fsync-race.toml"
    assert exc.value.where == ""
    assert exc.value.message == 'unknown key "sed" (did you mean "seed"?)'


def test_created_file_is_known_and_fork_target_may_use_inherited_files() -> None:
    text = """
[[tasks]]
name = "parent"
program = "parent"
[programs]
parent = ["open new create", "write new pos 4KiB", "fork child", "wait"]
child = ["write new pos 4KiB", "fsync new"]
"""
    s = load_text(text)
    assert list(s.programs) == ["parent", "child"]
