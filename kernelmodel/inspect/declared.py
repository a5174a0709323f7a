"""The declared state as a table, for the tools that read a saved state without restoring it
(model plumbing, no kernel counterpart; docs/ARCHITECTURE.md, "State: declared once").

Every generated module exports ``FIELDS``: per declaring class, its fields as (snapshot key,
attribute, type, how it is stored). ``DECLARED`` merges them, and ``SECTIONS`` says which
class each section of a saved kernel state holds, so ``snapshot diff`` names what differs in a
section field by field, in the declarations' own words, instead of keeping lists of its own.
"""

from __future__ import annotations

import re
from typing import Final

from kernelmodel.fs import state_generated as fs_generated
from kernelmodel.include import state_generated as include_generated
from kernelmodel.include import swap_generated, trace_generated
from kernelmodel.kernel import state_generated as kernel_generated
from kernelmodel.lib import state_generated as lib_generated
from kernelmodel.mm import state_generated as mm_generated
from machine import state_generated as machine_generated

#: Per declaring class: (snapshot key, attribute, type, how it is stored), in saved order.
DECLARED: Final[dict[str, tuple[tuple[str, str, str, str], ...]]] = {
    **machine_generated.FIELDS, **include_generated.FIELDS, **lib_generated.FIELDS,
    **swap_generated.FIELDS, **mm_generated.FIELDS, **fs_generated.FIELDS,
    **kernel_generated.FIELDS, **trace_generated.FIELDS,
}

#: The declared class each section of a saved kernel state (``Kernel.to_state``) holds.
SECTIONS: Final[dict[str, str]] = {
    "vmstat": "PageState", "rng": "Rng", "mem_map": "MemMap", "pgdat": "PageAllocator",
    "sb": "SuperBlock", "wb": "WritebackState", "swap": "SwapState", "lru_pvecs": "LruPvecs",
    "oom": "OomState", "cfg": "KernelConfig", "mm": "VlMmRegistry", "swapper_space": "SwapperSpace",
    "kswapd": "KswapdState", "trace": "TraceRing",
}


def _element(type_: str) -> str:
    """The declared class a field's type names (itself, in a list, or optional), or ""."""
    m = re.fullmatch(r"(?:list\[)?(\w+)(?:\]| \| None)?", type_)
    name = m.group(1) if m else ""
    return name if name in DECLARED else ""


def vl_declared_keys(cls: str) -> list[str]:
    """The snapshot keys class ``cls`` declares, in saved order (a ``custom`` field's keys
    are the class's own and not listed)."""
    keys = [k for key, _attr, type_, how in DECLARED[cls] for k in _keys(key, type_, how)]
    return list(dict.fromkeys(keys))  # the fields of one pack share a key


def _keys(key: str, type_: str, how: str) -> list[str]:
    """The snapshot keys one declared field is saved under (a ``custom`` field's are the
    class's own: none here)."""
    if how == "has":
        return [f"has_{key}", key]
    if how == "columns":  # one list per field of the element class
        return [k for ckey, _a, ctype, chow in DECLARED[_element(type_)]
                for k in _keys(ckey, ctype, chow)]
    if how.startswith("split="):  # a map saved as two lists
        return how[6:].split("/")
    return [] if how == "custom" else [key]


def vl_declared_changes(cls: str, a: object, b: object, prefix: str = "") -> list[str]:
    """The fields of a saved ``cls`` that differ between ``a`` and ``b``, by dotted name.

    A field holding one declared object is followed into it; any other field (a list of
    objects, a column, a reference) is named as a whole. Keys a class stores by its own
    ``custom`` code are compared as they are, by key.
    """
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [prefix.rstrip(".")] if a != b else []
    out: list[str] = []
    seen: set[str] = set()
    for key, _attr, type_, how in DECLARED[cls]:
        inner = _element(type_)
        if inner and how == "" and not type_.startswith("list["):
            seen.add(key)
            out += vl_declared_changes(inner, a.get(key), b.get(key), f"{prefix}{key}.")
            continue
        for k in _keys(key, type_, how):
            if k in seen:  # the fields of one pack share a key
                continue
            seen.add(k)
            if a.get(k) != b.get(k):
                out.append(prefix + k)
    for key in [*a, *(k for k in b if k not in a)]:
        if key not in seen and a.get(key) != b.get(key):
            out.append(prefix + key)
    return out
