"""A scenario fuzzer: hypothesis writes whole scenario files.

Valid ones (random machines and kernel profiles, files, and tasks mixing file I/O, shared and
private mappings, anonymous memory, fork, fsync, fdatasync, sync, msync and memory pressure)
load, boot and run as a ``Session`` with the invariant checker run after every event.
Malformed ones (a valid file with one thing broken: an unknown key, a value of the wrong type
or out of range, an unknown op, a number no machine can hold, nesting without end) end in
exit status 2 with one line on stderr.

Example counts are small so that the suite stays fast; each run is short (a 4 or 8 MiB machine,
120 events).
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelmodel.check.check import check_invariants
from scenarios.cli.main import main
from scenarios.loader import load_text
from scenarios.one_line import MAX_LINE
from scenarios.session import Session

FILE_ADDR = 0x5000_0000
ANON_ADDR = 0x4000_0000
EVENTS = 120


@st.composite
def _file_ops(draw: st.DrawFn, path: str, size: int) -> list[str]:
    """Ops on one file, opened first: writes, reads, syncs, a shared or private mapping."""
    ops = [f"open {path}"]
    pages = size // 4096
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["write", "read", "fsync", "fdatasync", "sync", "mmap",
                                     "fadvise"]))
        page = draw(st.integers(0, pages - 1))
        if kind in ("write", "read"):
            count = draw(st.integers(1, 4))
            how = draw(st.sampled_from(["", " random", " seq"]))
            ops.append(f"{kind} {path} {page * 4096} 4KiB x {count}{how}")
        elif kind in ("fsync", "fdatasync"):
            ops.append(f"{kind} {path}")
        elif kind == "sync":
            ops.append("sync")
        elif kind == "fadvise":
            ops.append(f"fadvise {path} {draw(st.sampled_from(['dontneed', 'willneed']))}")
        else:
            npages = draw(st.integers(1, pages))
            share = draw(st.sampled_from(["shared", "private"]))
            length = npages * 4096
            ops += [f"mmap {FILE_ADDR:#x} {length} {path} {share} rw",
                    f"touch {FILE_ADDR:#x} {length} {draw(st.sampled_from(['read', 'write']))}"]
            if share == "shared" and draw(st.booleans()):
                ops.append(f"msync {FILE_ADDR:#x} {length} "
                           f"{draw(st.sampled_from(['sync', 'async']))}")
            ops.append(f"munmap {FILE_ADDR:#x} {length}")
    ops.append(f"close {path}")
    return ops


@st.composite
def _anon_ops(draw: st.DrawFn, memory_mib: int) -> list[str]:
    """Anonymous memory, up to 1.5 x RAM (pressure: reclaim and swap)."""
    length = draw(st.integers(1, memory_mib * 384)) * 4096
    return [f"mmap {ANON_ADDR:#x} {length} anon",
            f"touch {ANON_ADDR:#x} {length} write",
            f"touch {ANON_ADDR:#x} {length} read stride 8KiB"]


@st.composite
def scenario_text(draw: st.DrawFn) -> str:
    memory = draw(st.sampled_from([4, 8]))
    profile = draw(st.sampled_from(["2.6.5", "2.6.6", "2.6.7"]))
    rmap = draw(st.sampled_from(["", "anon_vma", "pte_chain", "anonmm"]))
    kernel = (f'kernel = {{profile = "{profile}", rmap = "{rmap}"}}' if rmap
              else f'kernel = "{profile}"')
    nfiles = draw(st.integers(1, 2))
    files = [(f"f{i}", draw(st.integers(1, 64)) * 4096) for i in range(nfiles)]
    lines = [f"seed = {draw(st.integers(0, 2**63 - 1))}", 'duration = "2s"', kernel,
             "[machine]", f'memory = "{memory}MiB"', 'disk = "64MiB"',
             f'swap = "{draw(st.sampled_from([0, 8, 16]))}MiB"', "[tunables]",
             f"dirty_ratio = {draw(st.integers(5, 60))}",
             f"dirty_background_ratio = {draw(st.integers(1, 30))}"]
    for path, size in files:
        content = draw(st.sampled_from(["zero", "pattern", "random", "sparse"]))
        lines += ["[[files]]", f'path = "{path}"', f"size = {size}", f'content = "{content}"']
    child = draw(_file_ops(*files[0]))
    programs: list[list[str]] = []
    for _ in range(draw(st.integers(1, 3))):
        ops: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            part = draw(st.sampled_from(["file", "anon", "fork", "sleep"]))
            if part == "file":
                ops += draw(_file_ops(*draw(st.sampled_from(files))))
            elif part == "anon":
                ops += draw(_anon_ops(memory))
            elif part == "fork":
                ops += ["fork child", "wait"]
            else:
                ops.append(f"sleep {draw(st.integers(1, 50))}ms")
        programs.append(ops)
    lines += ["[programs]", f"child = {child!r}".replace("'", '"')]
    for i, ops in enumerate(programs):
        lines += ["[[tasks]]", f'name = "t{i}"', f"program = {ops!r}".replace("'", '"')]
    lines += ["[[expect]]", 'check = "data_verified and invariants_ok"']
    return "\n".join(lines) + "\n"


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario_text())
def test_valid_scenarios_run_with_invariants_after_every_event(text: str) -> None:
    s = Session(load_text(text, source="fuzz.toml"))
    for _ in range(EVENTS):
        if s.step() == 0:
            break
        broken = check_invariants(s.kernel)
        assert broken == [], f"event {s.events}: {broken[0]}\n{text}"
    assert s.kernel.verify_data() == [], text


# ---------------------------------------------------------------- malformed

BASE = """seed = 3
[machine]
memory = "8MiB"
[tunables]
dirty_ratio = 40
[[files]]
path = "f"
size = "16KiB"
[[tasks]]
name = "t"
program = ["open f", "write f 0 4KiB", "fsync f", "sleep 1ms"]
"""

#: Values that are never valid where a number belongs.
BAD_NUMBERS = st.sampled_from([
    '"40"', "-1", "1.5", "true", "[1]", "{a = 1}", str(1 << 64), "1" + "0" * 5000,
    '" 8MiB"', '"1e400s"', '"' + "9" * 100 + 'KiB"', '"8 MiB"', '"8MB"',
])


@st.composite
def malformed_text(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["key", "number", "op", "nesting", "op-number"]))
    if kind == "key":
        key = draw(st.text(st.characters(codec="utf-8", exclude_characters='"\\'),
                           min_size=1, max_size=2000))
        table = draw(st.sampled_from(["[machine]", "[tunables]", "[[files]]"]))
        return BASE.replace(table, f'{table}\n"{key}x" = 1', 1)
    if kind == "number":
        field = draw(st.sampled_from(['memory = "8MiB"', "dirty_ratio = 40",
                                      'size = "16KiB"', "seed = 3"]))
        name = field.split(" = ")[0]
        bad = draw(BAD_NUMBERS.filter(lambda v: name != "size" or v != '"40"'))  # 40 bytes
        return BASE.replace(field, f"{name} = {bad}", 1)
    if kind == "op":
        verb = draw(st.from_regex(r"[a-z]{1,12}", fullmatch=True).filter(
            lambda v: v not in {"sync", "wait", "end", "verify", "powercut"}))
        return BASE.replace('"sleep 1ms"', f'"sleep 1ms", "q{verb} f"', 1)
    if kind == "nesting":
        depth = draw(st.integers(33, 5000))
        return f"x = {'[' * depth}{']' * depth}\n" + BASE
    number = draw(st.sampled_from(["1e400s", "99999999999999999999", "1" * 5000, "-5",
                                   "5000000000s", "0x" + "f" * 70]))
    op = draw(st.sampled_from(['"sleep {}"', '"write f 0 {}"', '"loop {}", "sync", "end"',
                               '"truncate f {}"']))
    return BASE.replace('"sleep 1ms"', op.format(number), 1)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(malformed_text())
def test_malformed_scenarios_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                                  text: str) -> None:
    fd, path = tempfile.mkstemp(suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        code = main(["run", path, "--quiet"])
    finally:
        os.unlink(path)
    out, err = capsys.readouterr()
    assert code == 2, (out, err[:500])
    lines = err.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= MAX_LINE + 40, err[:1000]
    assert err.startswith("vmlab run: ")
