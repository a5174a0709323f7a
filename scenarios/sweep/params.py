"""The parameters of a sweep: ``--set`` fields addressed by their TOML path, and ``--seeds``.

``--set KEY=V1,V2,...`` gives a scenario field several values. KEY is the field's path in
the scenario file, table keys and array indices joined by dots::

    machine.memory=16MiB,32MiB          [machine] memory
    tunables.dirty_ratio=10,40          [tunables] dirty_ratio (set or not in the file)
    duration=10s,20s                    the top-level duration
    files.0.size=8MiB,16MiB             the first [[files]] entry's size
    tasks.0.program.1=OP1,OP2           the second op of the first task's inline program
    programs.writer.1=OP1,OP2           the second op of program "writer"

A value is read as TOML (``10`` an integer, ``true`` a boolean, ``"a b"`` a string) and
otherwise taken as the text itself (``16MiB``, ``write data 0 4KiB x 64 random``), exactly
what the file would hold in quotes. Each edited scenario is validated by the loader, so a bad
value is reported as the file's own mistake would be. The seed and the kernel have options of
their own (``--seeds``, ``--kernels`` and the design switches) and are not ``--set``.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scenarios.expect import suggest
from scenarios.library import ScenarioText
from scenarios.loader import (
    EXPECT_KEYS,
    FILE_KEYS,
    MACHINE_KEYS,
    MAX_SEED,
    TASK_KEYS,
    TOP_KEYS,
    TUNABLE_KEYS,
    ScenarioError,
    load_doc,
)
from scenarios.schema import Scenario

#: Top-level keys that --set refuses, and the option that varies them instead.
OWN_OPTIONS: Final = {"seed": "--seeds", "kernel": "--kernels, --writeback or --rmap",
                      "name": None, "description": None}

#: The keys a table may hold, by its path with array indices written "#" (the loader's lists);
#: a table that is not here (``programs``) holds the names the file gives it.
TABLE_KEYS: Final[dict[tuple[str, ...], tuple[str, ...]]] = {
    (): TOP_KEYS,
    ("machine",): MACHINE_KEYS,
    ("tunables",): TUNABLE_KEYS,
    ("files", "#"): FILE_KEYS,
    ("tasks", "#"): TASK_KEYS,
    ("expect", "#"): EXPECT_KEYS,
}

#: At most this many seeds from one range (a typo like 1..1000000000 is refused at once).
MAX_SEEDS: Final = 100_000


class SweepError(ValueError):
    """Bad input to a sweep; one line naming the option and the value."""


@dataclass(frozen=True)
class SetAxis:
    """One ``--set KEY=V1,V2,...``: a scenario field and the values it takes, as typed."""

    key: str
    values: tuple[str, ...]


def parse_set(text: str) -> SetAxis:
    """``"machine.memory=16MiB,32MiB"`` -> SetAxis("machine.memory", ("16MiB", "32MiB")).

    Raises:
        SweepError: no ``=``, an empty key or value, or a value listed twice.
    """
    key, eq, rest = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise SweepError(f'--set "{text}": expected KEY=V1,V2,... (for example '
                         f"machine.memory=16MiB,32MiB)")
    values = tuple(v.strip() for v in rest.split(","))
    if any(not v for v in values):
        raise SweepError(f'--set {key}: "{rest}" has an empty value (expected a '
                         f"comma-separated list such as 16MiB,32MiB)")
    for i, v in enumerate(values):
        if v in values[:i]:
            raise SweepError(f'--set {key}: "{v}" is listed twice')
    return SetAxis(key, values)


def parse_value(text: str) -> object:
    """A --set value as the TOML file would hold it: a TOML integer, float, boolean or
    quoted string, else the text itself."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


def _schema_path(parts: Sequence[str]) -> tuple[str, ...]:
    return tuple("#" if p.isdigit() else p for p in parts)


def _describe(node: object) -> str:
    if isinstance(node, dict):
        return "a table"
    if isinstance(node, list):
        return "an array"
    return "a value"


def _program_parts(doc: Mapping[str, object], parts: list[str]) -> list[str]:
    """Join dotted program names back together: ``programs.my.prog.1`` when the file has a
    program named "my.prog" (names may contain dots; keys of other tables do not)."""
    programs = doc.get("programs")
    if len(parts) < 2 or parts[0] != "programs" or not isinstance(programs, dict):
        return parts
    for n in range(len(parts) - 1, 1, -1):
        name = ".".join(parts[1:n])
        if name in programs:
            return ["programs", name, *parts[n:]]
    return parts


def check_key(doc: Mapping[str, object], key: str) -> None:
    """Check that ``key`` addresses one field of the scenario document (set or not).

    Raises:
        SweepError: one line naming the key and what is wrong with it.
    """
    set_value(copy.deepcopy(dict(doc)), key, 0)


def set_value(doc: dict[str, object], key: str, value: object) -> None:
    """Set the field at ``key`` in the parsed scenario document, creating a table the file
    leaves out (``[tunables]``) when the loader knows its keys.

    Raises:
        SweepError: the key names nothing the scenario can hold, or a whole table or array.
    """
    parts = _program_parts(doc, key.split("."))
    if any(not p for p in parts):
        raise SweepError(f'--set {key}: an empty part in the key (expected a path such as '
                         f"machine.memory or tasks.0.program)")
    if parts[0] in OWN_OPTIONS:
        own = OWN_OPTIONS[parts[0]]
        how = f"; sweep it with {own}" if own else ""
        raise SweepError(f"--set {key}: {parts[0]} cannot be set{how}")
    node: object = doc
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the scenario"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                count = f"{len(node)} item{'s' if len(node) != 1 else ''}"
                span = f" ({where}.0 .. {where}.{len(node) - 1})" if node else ""
                raise SweepError(f'--set {key}: "{part}" is not an index of {where}, which has '
                                 f"{count}{span}")
            index = int(part)
            if last:
                _check_leaf(key, node[index])
                node[index] = value
                return
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise SweepError(f"--set {key}: {where} is a value, not a table or an array")
        allowed = TABLE_KEYS.get(_schema_path(parts[:depth]))
        if part not in node:
            known = allowed if allowed is not None else tuple(node)
            if part not in known:
                hint = suggest(part, known) or f" (expected one of: {', '.join(known)})"
                raise SweepError(f'--set {key}: {where} has no key "{part}"{hint}')
            if last:
                node[part] = value
                return
            if _schema_path(parts[: depth + 1]) not in TABLE_KEYS:
                raise SweepError(f"--set {key}: the scenario has no {'.'.join(parts[:depth + 1])}"
                                 f" to set a field of")
            node[part] = {}
        if last:
            _check_leaf(key, node[part])
            node[part] = value
            return
        node = node[part]


def _check_leaf(key: str, current: object) -> None:
    if isinstance(current, dict | list):
        raise SweepError(f"--set {key}: this is {_describe(current)}; set one of its fields "
                         f"({key}.KEY or {key}.INDEX)")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1..4"`` -> (1, 2, 3, 4); ``"3,7,9"`` -> (3, 7, 9); both may mix: ``"1..3,10"``.

    Raises:
        SweepError: not a number or range, a range running backwards or too long, a seed
            given twice.
    """
    seeds: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        lo_text, dots, hi_text = item.partition("..")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if dots else lo
        except ValueError:
            raise SweepError(f'--seeds: "{item}" is not a seed or a range of seeds (expected '
                             f"1..8 or 3,7,9)") from None
        if lo < 0 or hi > MAX_SEED:
            raise SweepError(f'--seeds: "{item}" is outside 0..{MAX_SEED}')
        if hi < lo:
            raise SweepError(f'--seeds: "{item}" runs backwards (write {hi}..{lo})')
        if hi - lo >= MAX_SEEDS or len(seeds) + hi - lo >= MAX_SEEDS:
            raise SweepError(f'--seeds: "{text}" is more than {MAX_SEEDS:,} seeds')
        seeds.extend(range(lo, hi + 1))
    seen: set[int] = set()
    for seed in seeds:
        if seed in seen:
            raise SweepError(f"--seeds: seed {seed} is listed twice")
        seen.add(seed)
    return tuple(seeds)


def load_variant(text: ScenarioText, overrides: Sequence[tuple[str, str]]) -> Scenario:
    """The scenario of ``text`` with each (key, value) of ``overrides`` set, validated.

    Raises:
        SweepError: a key addresses nothing (``set_value``).
        ScenarioError: the edited scenario is invalid (one line naming the field).
    """
    try:
        doc = tomllib.loads(text.text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(text.source, "", f"invalid TOML: {exc}") from None
    for key, value in overrides:
        set_value(doc, key, parse_value(value))
    return load_doc(doc, source=text.source, default_name=text.default_name)
