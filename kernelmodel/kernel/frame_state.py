"""Saving and loading the frames of a task's stack from their declarations (model plumbing).

A protocol frame (``task.Frame``) declares its locals once, in ``FIELDS``: (name, kind) in save
order. This module is the only save/load code of frames. The kinds:

    int, bool, str   the value itself;
    ints             a list of ints;
    pages            a list of pages, saved as their pfns;
    mapping, inode   an address_space or an inode, saved as the inode number;
    wbc              a struct writeback_control or None: saved as its fields, or as "caller"
                     when it is the very object the frame below holds in its ``wbc`` (a
                     callee works on its caller's control, as the C passes a pointer);
    callee           the frame this one called, which is the frame directly above it: saved
                     as a bool, linked again once the whole stack is loaded.

A frame's state is ``{"frame": KIND, "op": name, "phase", "result", "is_syscall",
"is_fault"}`` and its fields. ``FRAME_CLASSES`` is the registry of frame kinds, filled by
``frame_classes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from kernelmodel.include.state_generated import load_writeback_control, save_writeback_control
from kernelmodel.include.writeback import WritebackControl
from kernelmodel.kernel.task import KOp

if TYPE_CHECKING:
    from kernelmodel.kernel.kernel import Kernel

#: The keys every frame's state starts with (no field may take one).
_HEAD: Final = ("frame", "op", "phase", "result", "is_syscall", "is_fault")


#: Frame kind -> its class: the one registry of frame kinds. Filled by
#: ``kernel/frame_classes.py`` (``vl_register_frames``), the module that names every frame
#: class of every subsystem, so this one (which ``task.py`` uses) imports no ``mm/`` or ``fs/``
#: module; whoever loads a stack (``state/restore.py``) imports that one first.
FRAME_CLASSES: Final[dict[str, type[KOp]]] = {}


def vl_register_frames(classes: tuple[type[KOp], ...]) -> None:
    """Enter ``classes`` in FRAME_CLASSES, each under its ``KIND``; the registry is checked
    as it is filled: a kind declared once, and no field named like a head key."""
    out: dict[str, type[KOp]] = {}
    for cls in classes:
        if not cls.KIND or cls.KIND in out:
            raise AssertionError(f"frame class {cls.__name__}: KIND missing or taken twice")
        if any(name in _HEAD for name, _kind in cls.FIELDS):
            raise AssertionError(f"frame class {cls.__name__}: a field takes a head key")
        out[cls.KIND] = cls
    FRAME_CLASSES.clear()
    FRAME_CLASSES.update(out)


def vl_frame_state(frame: KOp, below: KOp | None) -> dict[str, object]:
    """One frame as plain data; ``below`` is the frame under it (its caller), or None."""
    s: dict[str, object] = {
        "frame": frame.KIND,
        "op": frame.name,
        "phase": frame.phase,
        "result": frame.result,
        "is_syscall": frame.is_syscall,
        "is_fault": frame.is_fault,
    }
    for name, kind in frame.FIELDS:
        v = getattr(frame, name)
        if kind == "pages":
            s[name] = [p.pfn for p in v]
        elif kind == "ints":
            s[name] = list(v)
        elif kind == "wbc":
            if v is None:
                s[name] = None
            elif below is not None and getattr(below, "wbc", None) is v:
                s[name] = "caller"
            else:
                s[name] = save_writeback_control(v)
        elif kind == "callee":
            s[name] = v is not None
        elif kind == "mapping":
            s[name] = v.host
        elif kind == "inode":
            s[name] = v.i_ino
        else:
            s[name] = v
    return s


def vl_kstack_state(kstack: list[KOp]) -> list[dict[str, object]]:
    """A task's stack as plain data, bottom first."""
    out: list[dict[str, object]] = []
    below: KOp | None = None
    for op in kstack:
        out.append(vl_frame_state(op, below))
        below = op
    return out


_SCALARS: Final = {"int": int, "bool": bool, "str": str}


def vl_frame_from_state(k: Kernel, state: dict[str, object], below: KOp | None = None) -> KOp:
    """Rebuild one declared frame of a task's stack; ``below`` is the frame under it (its
    caller); callees are linked by ``vl_link_callees`` afterwards.

    Caller: the objects the frame names by id (inodes, pages, frames) are restored in ``k``.

    Raises:
        ValueError: an unknown kind, or a field missing or of the wrong type.
    """
    if not FRAME_CLASSES:
        raise RuntimeError("no frame classes registered: import kernelmodel.kernel.frame_classes")
    if "frame" not in state:  # every frame names its class (FRAME_CLASSES, the one registry)
        known = ", ".join(FRAME_CLASSES)
        raise ValueError(f"kernel state: a kernel op {state.get('op')!r} without its frame kind "
                         f"(known: {known})")
    kind = state.get("frame")
    if not isinstance(kind, str) or kind not in FRAME_CLASSES:
        raise ValueError(f"kernel state: unknown frame kind {kind!r}")
    cls = FRAME_CLASSES[kind]
    frame = cast(Callable[[], KOp], cls)()  # frame classes are built empty
    name = state.get("op")
    if not isinstance(name, str):
        raise ValueError(f"frame {kind}: op name missing")
    frame.name = name
    frame.load_base_state(state)
    for fname, fkind in cls.FIELDS:
        if fname not in state:
            raise ValueError(f"frame {kind}: field {fname!r} missing")
        v = state[fname]
        want = _SCALARS.get(fkind)
        if want is not None:
            if not isinstance(v, want) or (want is int and isinstance(v, bool)):
                raise ValueError(f"frame {kind}: {fname} must be {fkind}")
            setattr(frame, fname, v)
        elif fkind in ("ints", "pages"):
            if not isinstance(v, list) or not all(isinstance(x, int) for x in v):
                raise ValueError(f"frame {kind}: {fname} must be a list of ints")
            ints = [int(x) for x in v]
            pages = [k.mem_map.pfn_to_page(pfn) for pfn in ints] if fkind == "pages" else []
            setattr(frame, fname, ints if fkind == "ints" else pages)
        elif fkind == "wbc":
            setattr(frame, fname, _wbc(kind, fname, v, below))
        elif fkind == "mapping" or fkind == "inode":
            if not isinstance(v, int) or isinstance(v, bool) or v not in k.sb.s_inodes:
                raise ValueError(f"frame {kind}: {fname}: no inode {v!r}")
            inode = k.sb.s_inodes[v]
            setattr(frame, fname, inode.i_mapping if fkind == "mapping" else inode)
        elif fkind == "callee":
            if not isinstance(v, bool):
                raise ValueError(f"frame {kind}: {fname} must be a bool")
            setattr(frame, fname, None)
        else:
            raise AssertionError(f"frame {kind}: unknown field kind {fkind!r}")
    return frame


def _wbc(kind: str, fname: str, v: object, below: KOp | None) -> WritebackControl | None:
    if v is None:
        return None
    if v == "caller":
        w = getattr(below, "wbc", None) if below is not None else None
        if not isinstance(w, WritebackControl):
            raise ValueError(f"frame {kind}: {fname} is the caller's, but it has none")
        return w
    if not isinstance(v, dict):
        raise ValueError(f"frame {kind}: {fname} must be a writeback_control")
    return load_writeback_control({str(a): b for a, b in v.items()})


def vl_link_callees(kstack: list[KOp], states: list[dict[str, object]]) -> None:
    """Point each ``callee`` field saved as set at the frame above it.

    Raises:
        ValueError: a callee marked where no frame lies above.
    """
    for i, frame in enumerate(kstack):
        for fname, fkind in frame.FIELDS:
            if fkind == "callee" and states[i].get(fname) is True:
                if i + 1 >= len(kstack):
                    raise ValueError(f"frame {frame.KIND}: {fname} set on the top frame")
                setattr(frame, fname, kstack[i + 1])
