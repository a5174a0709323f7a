"""Helpers for the trace tests: synthetic lackey logs and what a replay must do with them."""

from __future__ import annotations

import random
from pathlib import Path

from scenarios.trace.format import PAGE_SIZE, Trace

#: x86-64 style addresses, so that every synthetic trace needs relocation.
TEXT = 0x5555_5555_4000
HEAP = 0x5555_5600_0000
STACK = 0x7FFD_1234_0000


def lackey_line(kind: str, addr: int, size: int) -> str:
    if kind == "I":
        return f"I  {addr:08x},{size}"
    return f" {kind} {addr:08x},{size}"


def synthetic_log(seed: int = 1, heap_pages: int = 24, passes: int = 2) -> bytes:
    """A lackey log of a made-up program: fetches from a text region, a heap of
    ``heap_pages`` pages that is partly read before it is written, stores and modifies,
    accesses that cross page boundaries, and a stack."""
    rng = random.Random(seed)
    lines = ["==77== Lackey, an example Valgrind tool", "==77== Command: synth --seed "
             + str(seed), "==77== "]
    pc = TEXT
    for p in range(passes):
        for page in range(heap_pages):
            pc = TEXT + rng.randrange(6 * PAGE_SIZE)
            lines.append(lackey_line("I", pc, rng.choice((1, 3, 5, 7))))
            base = HEAP + page * PAGE_SIZE
            off = rng.randrange(0, PAGE_SIZE - 64, 8)
            if page % 3 == 0 and p == 0:
                lines.append(lackey_line("L", base + off, 8))   # read first ...
            lines.append(lackey_line("S" if page % 2 else "M", base + off, 8))  # ... written
            if page % 5 == 4:
                lines.append(lackey_line("L", base + PAGE_SIZE - 3, 8))  # crosses a page
            if page % 7 == 6:
                lines.append(lackey_line("S", base + PAGE_SIZE - 2, 4))  # crossing write
            lines.append(lackey_line("S", STACK - 8 * (page % 700), 8))
            lines.append(lackey_line("L", STACK - 8 * (page % 700) - 16, 8))
    # a read-only page of data that is never written, and one read then written much later
    lines.append(lackey_line("L", HEAP + (heap_pages + 20) * PAGE_SIZE, 4))
    lines.append(lackey_line("L", HEAP + (heap_pages + 21) * PAGE_SIZE + 100, 2))
    lines.append(lackey_line("M", HEAP + (heap_pages + 21) * PAGE_SIZE + 100, 2))
    lines.append("==77== ")
    return ("\n".join(lines) + "\n").encode()


def accesses(t: Trace) -> list[tuple[int, int, int, int]]:
    """(page, offset, size, kind) of every access, in order."""
    out = []
    i = 0
    for page, n in zip(t.run_page, t.run_len, strict=True):
        for _ in range(n):
            out.append((page, t.offset[i], t.size[i], t.kind[i]))
            i += 1
    return out


def expected_faults(t: Trace) -> tuple[int, int, int]:
    """(distinct pages touched, pages read first and written later, their sum): the page
    faults 2.6.6 takes for the trace with memory to spare (an anonymous page read first maps
    the zero page; its first write then faults again to copy it)."""
    first_is_write: dict[int, bool] = {}
    cow: set[int] = set()
    for page, off, size, kind in accesses(t):
        write = kind >= 2
        for p in (page, page + 1) if off + size > PAGE_SIZE else (page,):
            if p not in first_is_write:
                first_is_write[p] = write
            elif write and not first_is_write[p]:
                cow.add(p)
    return len(first_is_write), len(cow), len(first_is_write) + len(cow)


def replay_toml(trace: str, memory: str = "16MiB", ops: str = "", tasks: int = 1,
                swap: str = "16MiB", extra: str = "") -> str:
    program = ops or f'"replay {trace}", "verify"'
    out = [f'name = "replay-test"\nseed = 5\nduration = "60s"\n\n[machine]\n'
           f'memory = "{memory}"\ndisk = "64MiB"\nswap = "{swap}"\n']
    for i in range(tasks):
        out.append(f'[[tasks]]\nname = "r{i}"\nprogram = "prog"\n')
    out.append(f"[programs]\nprog = [{program}]\n")
    out.append('[[expect]]\ncheck = "data_verified and invariants_ok"\n')
    out.append(extra)
    return "\n".join(out)


def write_scenario(dirpath: Path, text: str, name: str = "replay.toml") -> Path:
    p = dirpath / name
    p.write_text(text)
    return p
