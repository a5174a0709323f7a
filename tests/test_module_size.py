"""No module of the project (tests aside) is longer than ``MAX_LINES``.

A file that long holds more than one concept; split it along its seams. ``TO_SPLIT`` lists
the files known to be over the limit, each with why it is still allowed; an entry that is no
longer needed (the file got shorter, or moved) fails the test, so the list only shrinks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent

MAX_LINES: Final = 800

#: Directories that hold no module of the project.
NOT_SOURCE: Final = frozenset({"tests", "build", "dist", "node_modules"})

#: Files over the limit for now (path from the root -> why it is still one file). Each is
#: kernel code that the layout of kernelmodel/ in sub-packages mirroring the kernel tree (mm/,
#: fs/, lib/, kernel/) splits; the state code of each shrinks when state is declared once.
TO_SPLIT: Final[dict[str, str]] = {}


def _modules() -> list[Path]:
    out: list[Path] = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in NOT_SOURCE
                                           or d.endswith(".egg-info") or d == "__pycache__")]
        out += [Path(top, f) for f in files if f.endswith(".py")]
    return out


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def test_modules_are_at_most_max_lines() -> None:
    long = {p.relative_to(ROOT).as_posix(): n for p in _modules()
            if (n := _lines(p)) > MAX_LINES}
    unexpected = sorted(f"{path} ({n} lines)" for path, n in long.items()
                        if path not in TO_SPLIT)
    assert not unexpected, (f"over {MAX_LINES} lines: {', '.join(unexpected)}; split along "
                            f"its seams (one concept per file)")


def test_every_allowed_file_still_needs_it() -> None:
    stale = []
    for path in TO_SPLIT:
        file = ROOT / path
        if not file.is_file():
            stale.append(f"{path} (no such file)")
        elif _lines(file) <= MAX_LINES:
            stale.append(f"{path} ({_lines(file)} lines)")
    assert not stale, f"no longer over {MAX_LINES} lines, take out of TO_SPLIT: {stale}"


def test_the_walk_sees_the_project() -> None:
    seen = {p.relative_to(ROOT).parts[0] for p in _modules()}
    assert {"machine", "kernelmodel", "scenarios", "tui"} <= seen
    assert not any(p.relative_to(ROOT).parts[0] == "tests" for p in _modules())
