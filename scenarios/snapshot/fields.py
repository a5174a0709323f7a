"""Plain-data accessors for the sections of a snapshot map: the checked ones refuse a wrong
type with one ``SnapshotError`` line; ``get_path`` and ``get_int`` read what may be absent."""

from __future__ import annotations

from scenarios.snapshot.errors import SnapshotError


def field_dict(d: dict[str, object], key: str, section: str) -> dict[str, object]:
    """``d[key]``, which must be a map (else one ``SnapshotError`` line naming the section)."""
    v = d.get(key)
    if not isinstance(v, dict):
        raise SnapshotError(f"{section} section: {key} must be a map")
    return v


def field_str(d: dict[str, object], key: str, section: str) -> str:
    """``d[key]``, which must be a string (else one ``SnapshotError`` line naming the section)."""
    v = d.get(key)
    if not isinstance(v, str):
        raise SnapshotError(f"{section} section: {key} must be a string")
    return v


def field_int(d: dict[str, object], key: str, section: str) -> int:
    """``d[key]``, which must be an integer (else one ``SnapshotError`` line naming the section)."""
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise SnapshotError(f"{section} section: {key} must be an integer")
    return v


def field_list(d: dict[str, object], key: str, section: str) -> list[object]:
    """``d[key]``, which must be a list (else one ``SnapshotError`` line naming the section)."""
    v = d.get(key)
    if not isinstance(v, list):
        raise SnapshotError(f"{section} section: {key} must be a list")
    return v


def get_path(tree: object, *path: str) -> object:
    """``tree[path[0]][path[1]]...``, or None where the path does not exist."""
    node = tree
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def get_int(tree: object, *path: str) -> int:
    """``get_path`` where it is an int, else 0."""
    v = get_path(tree, *path)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
