"""Write payloads (kernelmodel/lib/payload.py): every generator gives fixed bytes, the same on
every host and in the compiled and the pure build, and any window of a stream is that window
of the whole stream."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelmodel.lib.payload import (
    PAYLOAD_GEN_SHAKE,
    PAYLOAD_GEN_SPLITMIX,
    PAYLOAD_GENERATOR,
    vl_payload_slice,
    vl_shake_block,
)
from kernelmodel.lib.rng import vl_pattern_bytes
from scenarios.flavour import flavour

ROOT = Path(__file__).resolve().parents[2]

#: (seed, stream offset, length): aligned pages, an unaligned window across two blocks, a
#: two-byte window across a block boundary, a seed past 64 bits (taken modulo 2**64).
CASES = [(0, 0, 4096), (1, 4096, 4096), (0x7FFFFFFFFFFFFFFF, 123 * 4096, 4096),
         (12345, 100, 5000), (99, 4095, 2), (2**64 + 5, 0, 64)]

#: SHA-256 (first 32 hex digits) of each case, computed once and pinned: a change here
#: changes what every scenario writes, so it is a new generator, never an edit of one.
PINNED = {
    PAYLOAD_GEN_SPLITMIX: ["609f24ecd546a75b3296a5aea0360ce8", "19f8da3a8750676760a7ef24d06822c8",
                           "e8270048383033161842f2c791fc298e", "213628e2f357af366a2213da8180503a",
                           "6e46567cf8ab747f49267417a4508f00", "fd14d2904087f9ab314218137b599e41"],
    PAYLOAD_GEN_SHAKE: ["31ea48a10fabad67d792bcc60c925d5a", "d9607376e3fcddfe5a9367d37b96f952",
                        "d70b04d10dd914264a09ff73b2529d26", "17163347039564435b15e6a4ab4eb514",
                        "327a578501a3f4313cb535916b9c460f", "36cb67fdce53c698755aacdb0a34089c"],
}


def _digests() -> dict[int, list[str]]:
    return {g: [hashlib.sha256(vl_payload_slice(g, *c)).hexdigest()[:32] for c in CASES]
            for g in PINNED}


def test_generators_give_their_pinned_bytes() -> None:
    assert PAYLOAD_GENERATOR == PAYLOAD_GEN_SHAKE
    assert _digests() == PINNED


def test_the_shake_generator_is_shake_128_of_tag_seed_and_block() -> None:
    """The definition, spelled out with hashlib alone (what another implementation needs)."""
    key = b"vmlab write payload" + (7).to_bytes(8, "little") + (3).to_bytes(8, "little")
    assert vl_shake_block(7, 3) == hashlib.shake_128(key).digest(4096)
    assert vl_payload_slice(PAYLOAD_GEN_SHAKE, 7, 3 * 4096, 4096) == vl_shake_block(7, 3)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 20000), st.integers(0, 9000))
def test_a_slice_is_a_window_of_the_stream(seed: int, start: int, length: int) -> None:
    stream = b"".join(vl_shake_block(seed, b) for b in range((start + length) // 4096 + 1))
    assert vl_payload_slice(PAYLOAD_GEN_SHAKE, seed, start, length) == \
        stream[start : start + length]
    assert vl_payload_slice(PAYLOAD_GEN_SPLITMIX, seed, start, length) == \
        vl_pattern_bytes(seed, start + length)[start:]


def test_pages_of_other_seeds_and_offsets_differ_everywhere() -> None:
    """What makes a misplaced page visible: two different pages share almost no byte."""
    pages = [vl_payload_slice(PAYLOAD_GEN_SHAKE, s, o, 4096)
             for s in (1, 2) for o in (0, 4096, 64)]
    for i, a in enumerate(pages):
        for b in pages[i + 1:]:
            assert sum(x == y for x, y in zip(a, b, strict=True)) < 64


def test_an_unknown_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown payload generator 3"):
        vl_payload_slice(3, 1, 0, 10)


def test_compiled_and_interpreted_give_the_same_bytes() -> None:
    """The digests computed by the pure build in a child process equal this process's
    (compiled, when a compiled build is what this run imported) and the pinned ones."""
    env = dict(os.environ, VMLAB_INTERPRETED="1")
    code = ("from scenarios.flavour import install_source_only_finder, flavour\n"
            "install_source_only_finder()\n"
            "import json, tests.kernelmodel.test_payload as t\n"
            "print(json.dumps([flavour(), t._digests()]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    kind, theirs = json.loads(out.strip().splitlines()[-1])
    assert kind == "interpreted"
    assert {int(g): d for g, d in theirs.items()} == _digests() == PINNED, flavour()
