"""The declared state: the generated save and load functions are current, agree with a simple
reference walk of the declarations, round-trip, and refuse a wrong type with one line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernelmodel.fs.state_generated as fs_gen
import kernelmodel.include.state_generated as include_gen
import kernelmodel.include.swap_generated as swap_gen
import kernelmodel.include.trace_generated as trace_gen
import kernelmodel.kernel.state_generated as kernel_gen
import kernelmodel.lib.state_generated as lib_gen
import kernelmodel.mm.state_generated as mm_gen
import kernelmodel.oracle.state_generated as oracle_gen
import machine.state_generated as mgen
from kernelmodel.fs.bio import Bio
from kernelmodel.fs.fs import File
from kernelmodel.include.mm_types import AnonMm, AnonVma, VmArea
from kernelmodel.include.swap import DirectReclaim, LruPvecs, OomState, SwapInfoStruct
from kernelmodel.include.vmstat import PageState, TraceEvent
from kernelmodel.include.writeback import WritebackControl, WritebackState
from kernelmodel.lib.rng import Rng
from kernelmodel.state import gen
from machine.board import MachineConfig
from machine.clock import Clock
from machine.disk import DiskModel, DiskRequest
from machine.isa import OP_TOUCH, Insn


def _clock_with_events() -> Clock:
    clock = Clock()
    clock.schedule(100, 1, 2, 3)
    clock.schedule(50, 2)
    return clock


#: A valid object of every class whose loader needs only its state (the base of the examples).
_FACTORIES: dict[str, Callable[[], object]] = {
    "Bio": lambda: Bio(7, 1, 800, [3, 4], 0, 1000),
    "File": lambda: File(1, 2, "/data", 0),
    "VmArea": lambda: VmArea(1, 1, 0x1000, 0x3000, 3, 0x25, 1),
    "AnonVma": lambda: AnonVma(2),
    "AnonMm": lambda: AnonMm(1, 1, 1),
    "OomState": OomState,
    "PageState": PageState,
    "Rng": lambda: Rng(5),
    "LruPvecs": LruPvecs,
    "SwapInfoStruct": SwapInfoStruct,
    "WritebackControl": WritebackControl,
    "WritebackState": WritebackState,
    "MachineConfig": lambda: MachineConfig(1 << 20, 1 << 20),
    "DiskModel": DiskModel,
    "Clock": _clock_with_events,
    "DiskRequest": lambda: DiskRequest(3, 8, 8, True, b"x" * 4096, 9, 0, 500),
}
#: Every generated module (machine/ has one; each sub-package of kernelmodel/ its own, and a
#: class may name its own: the trace ring's).
_MODULES = (mgen, include_gen, lib_gen, swap_gen, mm_gen, fs_gen, kernel_gen, oracle_gen, trace_gen)
_FIELDS = {name: fields for mod in _MODULES for name, fields in mod.FIELDS.items()}


#: What the custom fields of these classes store, written the plain way.
def _swap_map(o: SwapInfoStruct) -> dict[str, object]:
    return {"swap_map": [[i, c] for i, c in enumerate(o.swap_map) if c]}


def _events(o: Clock) -> dict[str, object]:
    return {"events": [x for ev in o.pending_events()
                       for x in (ev.time, ev.seq, ev.kind, ev.a, ev.b)]}


_CUSTOM: dict[str, Callable[..., dict[str, object]]] = {
    "SwapInfoStruct": _swap_map,
    "Clock": _events,
}


def _codec(name: str) -> tuple[Callable[[object], dict[str, object]],
                                Callable[[dict[str, object]], object]]:
    mod = next(m for m in _MODULES if name in m.FIELDS)
    snake = gen.snake(name)
    return getattr(mod, f"save_{snake}"), getattr(mod, f"load_{snake}")


def _reference_save(obj: object) -> dict[str, object]:
    """The plainest reading of the declaration: each field's value under its key."""
    out: dict[str, object] = {}
    for key, attr, _type, how in _FIELDS[type(obj).__name__]:
        value = getattr(obj, attr)
        if how == "has":
            out[f"has_{key}"] = value is not None
            out[key] = value if value is not None else 0
        elif how == "custom":
            out.update(_CUSTOM[type(obj).__name__](obj))
        elif isinstance(value, list | bytearray):
            out[key] = list(value) if isinstance(value, list) else bytes(value)
        else:
            out[key] = value
    return out


def _value(type_: str, how: str) -> st.SearchStrategy[object]:
    if how.startswith("range="):
        lo, hi = (int(x, 0) for x in how[6:].split(".."))
        return st.integers(lo, hi)
    return {
        "int": st.integers(-(1 << 40), 1 << 40),
        "bool": st.booleans(),
        "str": st.text(max_size=8),
        "bytes": st.binary(max_size=16),
        "int | None": st.none() | st.integers(-(1 << 40), 1 << 40),
        "list[int]": st.lists(st.integers(0, 1 << 20), max_size=4),
    }[type_]


@st.composite
def _states(draw: st.DrawFn, name: str) -> dict[str, object]:
    """A state of class ``name``: its valid base with some fields drawn at random."""
    save, _ = _codec(name)
    state = save(_FACTORIES[name]())
    for key, _attr, type_, how in _FIELDS[name]:
        if how == "custom" or not draw(st.booleans()):
            continue
        value = draw(_value(type_, how))
        if how == "has":
            state[f"has_{key}"] = value is not None
            state[key] = value if value is not None else 0
        else:
            state[key] = value
    return state


def test_generated_files_are_current() -> None:
    assert gen.main(["--check"]) == 0, "run python -m kernelmodel.state.gen"


def test_every_simple_class_is_exercised() -> None:
    """The examples below cover every declared class whose loader takes only its state."""
    simple = {name for name, fields in _FIELDS.items()
              if not any(how.startswith(("ref=", "keyed=")) for *_, how in fields)}
    needs_more = {"AddressSpace", "Inode", "SuperBlock", "CpuContext", "SwapState", "Zone",
                  "PageAllocator", "FreeArea", "MemMap", "Page", "MMU", "TlbEntry", "Cpu",
                  "KernelConfig", "SwapperSpace", "OracleFile", "VlMmOracle",
                  "KswapdState", "Task", "TraceRing",  # context, columns, validating loader,
                  *_ROWS}  # an old key's default; rows (below)
    assert simple - needs_more == set(_FACTORIES)


#: A valid object of every ``# state row`` class (saved as a list of its fields' values).
_ROWS: dict[str, Callable[[], object]] = {
    "DirectReclaim": lambda: DirectReclaim(7, 12, 3, 40, True, 1000),
    "TraceEvent": lambda: TraceEvent(5, 100, "fault", 2, 3, 4, "text"),
    "Insn": lambda: Insn(OP_TOUCH, 0x1000, 0x3000, 1, 0, "touch"),
}


@pytest.mark.parametrize("name", sorted(_ROWS))
def test_a_row_round_trips_and_refuses_a_wrong_value(name: str) -> None:
    save, load = _codec(name)
    obj = _ROWS[name]()
    row = save(obj)
    assert isinstance(row, list)
    fields = _FIELDS[name]
    assert row == [int(v) if isinstance(v := getattr(obj, attr), bool) else v
                   for _key, attr, _type, _how in fields]
    assert save(load(row)) == row
    for i, (key, _attr, type_, _how) in enumerate(fields):
        bad = list(row)
        bad[i] = 12 if type_ == "str" else "forged"
        with pytest.raises(ValueError, match=key):
            load(bad)
    with pytest.raises(ValueError, match="expected a list"):
        load(row[:-1])


@pytest.mark.parametrize("name", sorted(_FACTORIES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_matches_the_reference(name: str, data: st.DataObject) -> None:
    save, load = _codec(name)
    state = data.draw(_states(name))
    try:
        obj = load(state)
    except ValueError as e:  # a check across fields (vl_check_state, the constructor's own)
        assert "\n" not in str(e)
        return
    assert save(obj) == state
    assert list(save(obj)) == list(state)  # the same keys in the same order
    assert _reference_save(obj) == state


@pytest.mark.parametrize("name", sorted(_FACTORIES))
def test_a_wrong_type_is_refused_in_one_line(name: str) -> None:
    save, load = _codec(name)
    good = save(_FACTORIES[name]())
    for key, _attr, type_, how in _FIELDS[name]:
        bad = dict(good)
        bad[key] = "forged" if type_ != "str" else 12
        if how == "custom":
            bad[key] = 12
        with pytest.raises(ValueError) as exc:
            load(bad)
        text = str(exc.value)
        assert "\n" not in text and key in text, text
        missing = dict(good)
        del missing[key]
        if how == "optional":  # a snapshot from before the field: the constructor's value
            assert save(load(missing)) == good
            continue
        with pytest.raises(ValueError):
            load(missing)


@pytest.mark.parametrize("name", sorted(_FACTORIES))
def test_a_valid_object_round_trips(name: str) -> None:
    save, load = _codec(name)
    state = save(_FACTORIES[name]())
    assert save(load(state)) == state == _reference_save(load(state))
