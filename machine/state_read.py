"""Checked reads of a snapshot's plain data: one function per declared field type (model
plumbing, no kernel counterpart).

The generated loaders (``machine/state_generated.py``, ``kernelmodel/*/state_generated.py``)
call these, so a hostile or damaged snapshot is refused with one line naming the object and
the field (``ValueError``), never a crash deeper in. ``what`` names the object ("vma state").
An int is never a bool here (msgpack keeps them apart; a bool where an int belongs is forged).
It imports nothing of ours, so ``machine/`` can use it without depending on ``kernelmodel/``.
"""

from __future__ import annotations

from typing import Final, TypeVar

#: The one element type ``read_int_list`` accepts.
_INT_ONLY: Final = frozenset({int})


def read_int(state: dict[str, object], key: str, what: str) -> int:
    """``state[key]`` as an int."""
    v = state.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{what}: {key} must be an int")
    return v


def read_int_in(state: dict[str, object], key: str, what: str, lo: int, hi: int) -> int:
    """``state[key]`` as an int in ``lo..hi`` (both included)."""
    v = read_int(state, key, what)
    if v < lo or v > hi:
        raise ValueError(f"{what}: {key} must be in {lo}..{hi}, not {v}")
    return v


def read_bool(state: dict[str, object], key: str, what: str) -> bool:
    """``state[key]`` as a bool."""
    v = state.get(key)
    if not isinstance(v, bool):
        raise ValueError(f"{what}: {key} must be a bool")
    return v


def read_str(state: dict[str, object], key: str, what: str) -> str:
    """``state[key]`` as a str."""
    v = state.get(key)
    if not isinstance(v, str):
        raise ValueError(f"{what}: {key} must be a string")
    return v


def read_bytes(state: dict[str, object], key: str, what: str) -> bytes:
    """``state[key]`` as bytes."""
    v = state.get(key)
    if not isinstance(v, bytes):
        raise ValueError(f"{what}: {key} must be bytes")
    return v


def read_opt_int(state: dict[str, object], key: str, what: str) -> int | None:
    """``state[key]`` as an int or None."""
    if state.get(key) is None:
        return None
    return read_int(state, key, what)


def read_list(state: dict[str, object], key: str, what: str) -> list[object]:
    """``state[key]`` as a list (its items are the caller's to check)."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must be a list")
    return v


def read_int_list(state: dict[str, object], key: str, what: str) -> list[int]:
    """``state[key]`` as a list of ints (a new list)."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must be a list")
    # one pass over the types in C (the columns of mem_map and the zone are long): exactly
    # int, so a bool (an int subclass msgpack keeps apart) is refused as well
    if not set(map(type, v)) <= _INT_ONLY:
        raise ValueError(f"{what}: {key} must hold ints")
    out: list[int] = list(v)
    return out


def read_int_column(state: dict[str, object], key: str, what: str, n: int) -> list[int]:
    """``state[key]`` as a list of exactly ``n`` ints (one field of ``n`` objects)."""
    out = read_int_list(state, key, what)
    if len(out) != n:
        raise ValueError(f"{what}: {key} must be a list of {n} ints")
    return out


def read_str_list(state: dict[str, object], key: str, what: str) -> list[str]:
    """``state[key]`` as a list of strings (a new list)."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must be a list")
    out: list[str] = []
    for x in v:
        if not isinstance(x, str):
            raise ValueError(f"{what}: {key} must hold strings")
        out.append(x)
    return out


def as_state_dict(value: object, what: str) -> dict[str, object]:
    """``value`` as a dict with string keys (a new dict)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict")
    out: dict[str, object] = {}
    for name, item in value.items():
        if not isinstance(name, str):
            raise ValueError(f"{what} has a non-string key")
        out[name] = item
    return out


def read_dict(state: dict[str, object], key: str, what: str) -> dict[str, object]:
    """``state[key]`` as a dict with string keys."""
    return as_state_dict(state.get(key), f"{what}: {key}")


def read_opt_dict(state: dict[str, object], key: str, what: str) -> dict[str, object] | None:
    """``state[key]`` as a dict with string keys, or None."""
    if state.get(key) is None:
        return None
    return read_dict(state, key, what)


def read_dict_list(state: dict[str, object], key: str, what: str) -> list[dict[str, object]]:
    """``state[key]`` as a list of dicts with string keys."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must be a list")
    return [as_state_dict(x, f"{what}: {key} entry") for x in v]


_T = TypeVar("_T")


def resolve_ids(ids: list[int], table: dict[int, _T], what: str, key: str) -> list[_T]:
    """The objects ``ids`` name in ``table`` (references stored by stable id), in order."""
    out: list[_T] = []
    for i in ids:
        obj = table.get(i)
        if obj is None:
            raise ValueError(f"{what}: {key} names unknown id {i}")
        out.append(obj)
    return out


def resolve_opt_id(i: int, table: dict[int, _T]) -> _T | None:
    """The object id ``i`` names in ``table``, or None (-1, or an id no longer there)."""
    return table.get(i) if i >= 0 else None


def read_str_int_dict(state: dict[str, object], key: str, what: str) -> dict[str, int]:
    """``state[key]`` as a dict of str to int (a new dict, in the saved order)."""
    v = state.get(key)
    if not isinstance(v, dict):
        raise ValueError(f"{what}: {key} must be a dict")
    out: dict[str, int] = {}
    for name, x in v.items():
        if not isinstance(name, str) or not isinstance(x, int) or isinstance(x, bool):
            raise ValueError(f"{what}: {key} must map strings to ints")
        out[name] = x
    return out


def read_int_pairs(state: dict[str, object], key: str, what: str) -> dict[int, int]:
    """``state[key]``, a list of ``[int, int]`` pairs, as a dict (a new one, in the saved
    order)."""
    v = state.get(key)
    if not isinstance(v, list):
        raise ValueError(f"{what}: {key} must be a list")
    out: dict[int, int] = {}
    for pair in v:
        if not isinstance(pair, list) or len(pair) != 2 or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in pair):
            raise ValueError(f"{what}: {key} entries must be [int, int]")
        out[pair[0]] = pair[1]
    return out


def read_has_int(state: dict[str, object], key: str, what: str) -> int | None:
    """An ``int | None`` saved as ``has_KEY`` (a bool) and ``KEY`` (an int, 0 for None)."""
    has = read_bool(state, f"has_{key}", what)
    value = read_int(state, key, what)
    return value if has else None
