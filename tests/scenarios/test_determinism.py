"""Same scenario and seed give the same state hash in another process, compiled or pure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.library import builtin_names
from scenarios.session import Session

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, sys
from scenarios.session import Session
out = {}
for name in sys.argv[1:]:
    s = Session.load(name)
    s.run()
    out[name] = s.state_hash()
print(json.dumps(out))
"""


def _hashes_in_child(names: list[str], interpreted: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VMLAB_INTERPRETED", None)
    if interpreted:
        env["VMLAB_INTERPRETED"] = "1"
        code = "from scenarios.flavour import install_source_only_finder\n"
        code += "install_source_only_finder()\n" + _CHILD
    else:
        code = _CHILD
    proc = subprocess.run(
        [sys.executable, "-c", code, *names],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    result: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _hash_here(name: str) -> str:
    s = Session.load(name)
    s.run()
    return s.state_hash()


@pytest.mark.slow
def test_every_builtin_gives_the_same_hash_in_another_process() -> None:
    names = builtin_names()
    theirs = _hashes_in_child(names, interpreted=False)
    for name in names:
        assert theirs[name] == _hash_here(name), name


@pytest.mark.slow
def test_compiled_and_pure_builds_agree_bit_for_bit() -> None:
    names = ["writeback-order", "fork-cow"]
    pure = _hashes_in_child(names, interpreted=True)
    native = _hashes_in_child(names, interpreted=False)
    assert pure == native
