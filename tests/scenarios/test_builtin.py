"""Every built-in scenario validates and assembles; the library finds them (library.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from machine.state_generated import save_insn
from scenarios.assembler import assemble
from scenarios.library import (
    builtin_names,
    builtin_text,
    is_path,
    list_builtin,
    load_builtin,
    load_scenario,
)
from scenarios.loader import ScenarioError
from scenarios.schema import Scenario

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "builtin"

#: Built-ins that run on the page-cache part of the model alone.
PAGE_CACHE_SCENARIOS = ("default", "fsync-under-writeback", "writeback-order",
                        "parallel-writers", "page-cache-read", "dirty-throttle")
#: Built-ins that also need process memory (faults, fork, mmap, rmap, swap).
PROCESS_MEMORY_SCENARIOS = ("fork-cow", "shared-file-mmap", "swap-storm", "reclaim-rmap",
                            "replay-sort")
#: Built-ins that script an interleaving with breakpoints.
INTERLEAVING_SCENARIOS = ("fsync-race-a", "fsync-race-b", "fsync-livelock-d")
#: Built-ins made for ``vmlab compare`` (their story is in the comparison table).
COMPARISON_SCENARIOS = ("cmp-struct-page", "cmp-writeback-order", "cmp-fork-rmap",
                        "cmp-parallel-writers", "cmp-replay", "cmp-reclaim")


def test_names_match_directory() -> None:
    on_disk = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))
    assert builtin_names() == on_disk
    assert set(on_disk) == (set(PAGE_CACHE_SCENARIOS) | set(PROCESS_MEMORY_SCENARIOS)
                            | set(INTERLEAVING_SCENARIOS) | set(COMPARISON_SCENARIOS))


@pytest.mark.parametrize("name", sorted(PAGE_CACHE_SCENARIOS + PROCESS_MEMORY_SCENARIOS
                                        + INTERLEAVING_SCENARIOS + COMPARISON_SCENARIOS))
def test_builtin_validates_and_assembles(name: str) -> None:
    s = load_builtin(name)
    assert s.name == name
    assert s.source == f"{name}.toml"
    assert s.description
    assert s.expectations, "every built-in states what must hold"
    assert s.story and s.story[0].point == "start", "every built-in tells its story from boot"
    assert _watched_cheaply(s), "a story condition watched after every event is cheap"
    a = assemble(s)
    assert len(a.tasks) == len(s.tasks)
    assert all(p.insns for p in a.programs)
    again = assemble(s)
    assert [[save_insn(i) for i in p.insns] for p in a.programs] == \
        [[save_insn(i) for i in p.insns] for p in again.programs]


def _watched_cheaply(s: Scenario) -> bool:
    """Every story condition tested after every event reads its counters straight from the
    model (not through the whole ``metrics()`` map)."""
    from kernelmodel.include.vmstat import VMSTAT_NAMES
    from scenarios.story import direct_reader

    return all(direct_reader(item.when, frozenset(VMSTAT_NAMES))
               for item in s.story
               if item.when is not None and not item.point and item.time_ns < 0)


def test_list_builtin() -> None:
    listed = list_builtin()
    assert [n for n, _ in listed] == builtin_names()
    assert dict(listed)["default"].startswith("A tour of the page cache")


def test_unknown_builtin_suggests() -> None:
    with pytest.raises(ScenarioError) as exc:
        builtin_text("defualt")
    assert str(exc.value) == ('defualt: no built-in scenario or file of that name '
                              '(did you mean "default"?); \'vmlab scenarios\' lists them')


def test_load_scenario_path_or_name(tmp_path: Path) -> None:
    assert load_scenario("default").name == "default"
    p = tmp_path / "mine.toml"
    p.write_text('[[tasks]]\nprogram = ["sync"]\n')
    assert load_scenario(str(p)).name == "mine"
    assert is_path("x.toml") and is_path("dir/x") and not is_path("default")
