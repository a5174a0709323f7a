"""The plain C reference loops of ``vmlab bench`` (scenarios/c_reference.py, csrc/).

The C source must ship inside the package (so an installed vmlab measures it), build with
the system compiler, and do the same work as the model's loops: its checksums are compared
with the model's on small inputs. Without a compiler the reference is skipped with a
one-line reason.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console

from machine.bench_support import vl_bench_random_pages
from scenarios import c_reference
from scenarios.benchmark import _indices, _mapped_mmu
from scenarios.c_reference import CReference, find_compiler, loops, run_c_loops
from scenarios.cli.bench import _print_c_ratios

ROOT = Path(__file__).resolve().parents[2]

needs_cc = pytest.mark.skipif(find_compiler() is None, reason="no C compiler on PATH")


def test_source_is_package_data() -> None:
    assert resources.files("scenarios").joinpath(c_reference.SOURCE).is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "csrc/*.c" in pyproject["tool"]["setuptools"]["package-data"]["scenarios"]


def test_loops_cover_the_measured_rows() -> None:
    rows = {lp.result for lp in loops()}
    assert rows == {
        "mmu translate, TLB hit",
        "mmu translate, random pages over 8 MiB",
        "radix lookup, random",
        "radix tag_set, random",
        "radix tag_clear, random",
    }


def _random_page_vaddrs(base: int, npages: int, n: int) -> list[int]:
    # the LCG of scenarios.benchmark.bench_random_pages
    x = 12345
    out = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(base + (x % npages) * 4096 + (x & 0xFFC))
    return out


@needs_cc
def test_c_loops_do_the_models_work() -> None:
    by_name = {lp.name: lp for lp in loops()}
    n = 5000
    ref = run_c_loops(
        [
            (by_name["random-pages"], n),
            (by_name["radix-lookup"], 3000),
            (by_name["radix-tag_set"], 3000),
            (by_name["radix-tag_clear"], 3000),
        ]
    )
    assert ref.skipped == ""
    assert all(rate > 0 for rate in ref.rates.values())
    assert ref.cpu_rates.keys() == ref.rates.keys()
    assert all(rate > 0 for rate in ref.cpu_rates.values())
    _mem, mmu, base = _mapped_mmu(2048)
    from machine.mmu import MMU

    assert isinstance(mmu, MMU)
    model = vl_bench_random_pages(mmu, _random_page_vaddrs(base, 2048, n))
    assert ref.checksums["mmu translate, random pages over 8 MiB"] == model
    # every shuffled index is present, tagged and cleared once
    assert sorted(_indices(3000, True)) == list(range(3000))
    assert ref.checksums["radix lookup, random"] == 3000
    assert ref.checksums["radix tag_set, random"] == 3000
    assert ref.checksums["radix tag_clear, random"] == 3000


def test_no_compiler_gives_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    ref = run_c_loops([(loops()[0], 10)])
    assert ref.rates == {}
    assert ref.skipped == "no C compiler found (cc, gcc or clang on PATH)"


def test_ratio_lines(capsys: pytest.CaptureFixture[str]) -> None:
    compiled: list[dict[str, object]] = [
        {"name": "radix tag_set, random", "unit": "ops/s", "ops": 1000, "seconds": 0.01}
    ]
    console = Console(stderr=True)
    _print_c_ratios(CReference(rates={"radix tag_set, random": 1e6}), compiled, console)
    out = capsys.readouterr()
    assert out.out == (
        "C reference, radix tag_set, random: 1.00 M ops/s; compiled vmlab is 10.0x slower\n"
    )
    # with CPU times on both sides the ratio is taken on them, the wall one in brackets
    timed: list[dict[str, object]] = [dict(compiled[0], cpu_seconds=0.004)]
    cref = CReference(rates={"radix tag_set, random": 1e6},
                      cpu_rates={"radix tag_set, random": 2e6})
    _print_c_ratios(cref, timed, console)
    assert capsys.readouterr().out == (
        "C reference, radix tag_set, random: 2.00 M ops/s in CPU time; compiled vmlab is 8.0x "
        "slower in CPU time (10.0x by wall clock)\n"
    )
    _print_c_ratios(CReference(skipped="no C compiler found"), compiled, console)
    assert "C reference skipped: no C compiler found" in capsys.readouterr().err
