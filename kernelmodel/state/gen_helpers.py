"""The small checked readers the generated modules carry (model plumbing, no kernel
counterpart; kernelmodel/state/gen.py copies into a generated module those its code calls).

They check the shapes ``machine/state_read.py`` does not: a row (a class saved as the list of
its fields' values), a map with decimal-string int keys, maps of strings and of int lists,
and a list of lists. Each is written here once and copied with the helpers it calls itself
(the generated modules import nothing of the generator). They are hand-written checked
reads, as machine/state_read.py's are, and ``--count`` counts them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Final


def _row(state: object, n: int, what: str) -> list[object]:
    if not isinstance(state, list) or len(state) != n:
        raise ValueError(f"{what}: expected a list of {n} values")
    return state


def _row_int(r: list[object], i: int, what: str, key: str) -> int:
    v = r[i]
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{what}: {key} must be an int")
    return v


def _row_str(r: list[object], i: int, what: str, key: str) -> str:
    v = r[i]
    if not isinstance(v, str):
        raise ValueError(f"{what}: {key} must be a string")
    return v


def _list(v: object, what: str, key: str) -> list[object]:
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must hold lists")
    return v


def _int_keys(d: dict[str, int], what: str, key: str) -> dict[int, int]:
    """``d`` with its keys, canonical decimal ints, as ints."""
    out: dict[int, int] = {}
    for text, x in d.items():
        digits = text[1:] if text.startswith("-") else text
        if not digits.isdigit() or not digits.isascii() or str(int(text)) != text:
            raise ValueError(f"{what}: {key} key {text!r} is not an integer")
        out[int(text)] = x
    return out


def _split_dict(keys: list[int], values: list[int], what: str, key: str) -> dict[int, int]:
    if len(keys) != len(values):
        raise ValueError(f"{what}: {key} and its keys differ in length")
    return dict(zip(keys, values, strict=True))


def _str_dict(d: dict[str, object], what: str, key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, v in d.items():
        if not isinstance(v, str):
            raise ValueError(f"{what}: {key} must map to strings")
        out[name] = v
    return out


def _int_list_dict(d: dict[str, object], what: str, key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for name, v in d.items():
        r = _list(v, what, key)
        out[name] = [_row_int(r, i, what, key) for i in range(len(r))]
    return out

_SOURCE: Final = Path(__file__).read_text()
#: Each helper above by name: its source, as the generated modules get it.
_FUNCS: Final = {f.name: ast.get_source_segment(_SOURCE, f) or ""
                 for f in ast.parse(_SOURCE).body
                 if isinstance(f, ast.FunctionDef) and f.name.startswith("_")}


def pick(text: str) -> list[str]:
    """The source lines of the helpers ``text`` calls, and of those they call, in order."""
    want: set[str] = set()
    todo = [text]
    while todo:
        for name in re.findall(r"\b(_\w+)\(", todo.pop()):
            if name in _FUNCS and name not in want:
                want.add(name)
                todo.append(_FUNCS[name])
    out: list[str] = []
    for name, src in _FUNCS.items():
        if name in want:
            out += ["", "", *src.splitlines()]
    return out
