"""Kernel profiles: which design each release uses, and which designs the model implements.

A profile names a release; it implies the writeback design (per-mapping page ``lists`` in
2.6.5, radix-tree ``tags`` from 2.6.6), the reverse-mapping design (``pte_chain`` up to
2.6.6, ``anon_vma`` object rmap in 2.6.7; ``anonmm`` is Hugh Dickins' alternative, selectable
only explicitly) and the reclaim design (mm/vmscan.c: ``2.6.6``'s for 2.6.5 and 2.6.6,
``2.6.7``'s rewrite for 2.6.7). Scenarios may name any profile; a run refuses a design the
model does not implement yet. These tables are the one place that says so: implementing a
design means adding it to ``AVAILABLE_WRITEBACK``, ``AVAILABLE_RMAP`` or ``AVAILABLE_VMSCAN``.

``DESIGNS`` lists the switches themselves, with the release whose code each design follows;
``vmlab run`` and ``vmlab compare`` print it per column (``design_lines``), so a profile that
runs another release's design says so. A new switch is one more ``KernelSpec`` field, one
more ``Design`` row and its profile table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from scenarios.schema import KernelSpec

#: profile -> (writeback, rmap)
PROFILES: Final[dict[str, tuple[str, str]]] = {
    "2.6.5": ("lists", "pte_chain"),
    "2.6.6": ("tags", "pte_chain"),
    "2.6.7": ("tags", "anon_vma"),
}
#: profile -> its reclaim design (2.6.5's vmscan.c has 2.6.6's structure).
PROFILE_VMSCAN: Final[dict[str, str]] = {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"}

WRITEBACK_DESIGNS: Final = ("tags", "lists")
RMAP_DESIGNS: Final = ("anon_vma", "pte_chain", "anonmm")
VMSCAN_DESIGNS: Final = ("2.6.6", "2.6.7")

AVAILABLE_WRITEBACK: Final[frozenset[str]] = frozenset({"tags", "lists"})
AVAILABLE_RMAP: Final[frozenset[str]] = frozenset({"anon_vma", "pte_chain", "anonmm"})
AVAILABLE_VMSCAN: Final[frozenset[str]] = frozenset({"2.6.6", "2.6.7"})


@dataclass(frozen=True)
class Design:
    """One design switch: the ``KernelSpec`` field (and scenario key, and ``--OPTION``) that
    holds it, what it is, its designs in the order help texts list them, and for each design
    the release whose kernel code the model follows."""

    switch: str
    what: str
    names: tuple[str, ...]
    origin: dict[str, str]


#: Every design switch, in the order columns show them.
DESIGNS: Final[tuple[Design, ...]] = (
    Design("writeback", "writeback", WRITEBACK_DESIGNS,
           {"tags": "2.6.6", "lists": "2.6.5"}),
    Design("rmap", "reverse-mapping", RMAP_DESIGNS,
           {"anon_vma": "2.6.7", "pte_chain": "2.6.5/2.6.6",
            "anonmm": "2.6.7-rc1 merge, unreleased"}),
    Design("vmscan", "page reclaim (mm/vmscan.c)", VMSCAN_DESIGNS,
           {"2.6.6": "2.6.6", "2.6.7": "2.6.7"}),
)


def profile_spec(profile: str) -> KernelSpec:
    """The kernel a profile names, with its own designs (``profile`` must be a key of
    ``PROFILES``)."""
    wb, rmap = PROFILES[profile]
    return KernelSpec(profile=profile, writeback=wb, rmap=rmap, vmscan=PROFILE_VMSCAN[profile])


def overridden(spec: KernelSpec) -> list[Design]:
    """The switches whose design differs from the profile's own, in ``DESIGNS`` order."""
    own = profile_spec(spec.profile)
    return [d for d in DESIGNS if getattr(spec, d.switch) != getattr(own, d.switch)]


def design_lines(spec: KernelSpec, brief: bool = False) -> list[str]:
    """One line per switch: ``vmscan 2.6.6 (2.6.6; profile 2.6.7 has 2.6.7)``; ``brief``:
    ``vmscan 2.6.6*``, ``tags (2.6.6)``.

    Each says which release's code the design follows; an overridden design also names the
    profile's own (``brief``: marks it with "*" instead, for narrow table headers).
    """
    own = profile_spec(spec.profile) if spec.profile in PROFILES else spec
    lines = []
    for d in DESIGNS:
        value = str(getattr(spec, d.switch))
        origin = d.origin.get(value, "?")
        mine = str(getattr(own, d.switch))
        if brief:  # a design named after its release says the switch, others the release
            mark = "*" if value != mine else ""
            lines.append(f"{d.switch} {value}{mark}" if origin == value else
                         f"{value}{mark} ({origin})")
            continue
        text = f"{d.switch} {value} ({origin}"
        if value != mine:
            text += f"; profile {spec.profile} has {mine}"
        lines.append(text + ")")
    return lines


def _available(switch: str) -> frozenset[str]:
    table = {"writeback": AVAILABLE_WRITEBACK, "rmap": AVAILABLE_RMAP,
             "vmscan": AVAILABLE_VMSCAN}
    return table.get(switch, frozenset())


def available_profiles() -> list[str]:
    """Profiles whose designs are all implemented, in release order."""
    return [name for name in PROFILES
            if unavailable_reason(name, *PROFILES[name], PROFILE_VMSCAN[name]) is None]


def unavailable_reason(profile: str, writeback: str, rmap: str,
                       vmscan: str | None = None) -> str | None:
    """Why a run on this kernel cannot start yet, as one line; None when it can.

    Args:
        profile: a key of ``PROFILES``.
        writeback: the writeback design (the profile's unless overridden).
        rmap: the reverse-mapping design (the profile's unless overridden).
        vmscan: the reclaim design; None: the profile's own.
    """
    if vmscan is None:
        vmscan = PROFILE_VMSCAN.get(profile, VMSCAN_DESIGNS[-1])
    chosen = {"writeback": writeback, "rmap": rmap, "vmscan": vmscan}
    missing = [f"{d.switch}={chosen[d.switch]}" for d in DESIGNS
               if chosen[d.switch] not in _available(d.switch)]
    if not missing:
        return None
    label = f"kernel profile {profile}"
    own = PROFILES.get(profile)
    if own is None or (writeback, rmap, vmscan) != (*own, PROFILE_VMSCAN[profile]):
        label = f"kernel {profile} with writeback={writeback}, rmap={rmap}"
        if own is not None and vmscan != PROFILE_VMSCAN[profile]:
            label += f", vmscan={vmscan}"
    verb = "is" if len(missing) == 1 else "are"
    avail = [name for name in PROFILES
             if all(getattr(profile_spec(name), d.switch) in _available(d.switch)
                    for d in DESIGNS)]
    use = f"; use {avail[-1]}" if avail else ""
    return f"{label} is not available yet ({', '.join(missing)} {verb} not implemented){use}"


class ProfileError(ValueError):
    """A kernel the run cannot use (unknown profile or unimplemented design); one line."""


def resolve_kernel(spec: KernelSpec, profile: str | KernelSpec | None) -> KernelSpec:
    """The kernel a run uses: the scenario's, ``profile`` with that profile's designs, or the
    given ``KernelSpec`` itself.

    Raises:
        ProfileError: ``profile`` is not a known profile.
    """
    if profile is None:
        return spec
    if isinstance(profile, KernelSpec):
        if profile.profile not in PROFILES:
            raise ProfileError(f'unknown kernel profile "{profile.profile}" (expected one of: '
                               f'{", ".join(PROFILES)})')
        return profile
    if profile not in PROFILES:
        raise ProfileError(f'unknown kernel profile "{profile}" (expected one of: '
                           f'{", ".join(PROFILES)})')
    return profile_spec(profile)


def with_designs(spec: KernelSpec, **designs: str | None) -> KernelSpec:
    """``spec`` with the given switches replaced (a None value keeps the spec's own).

    Raises:
        ProfileError: an unknown switch or design name.
    """
    changes: dict[str, str] = {}
    by_switch = {d.switch: d for d in DESIGNS}
    for switch, value in designs.items():
        if value is None:
            continue
        d = by_switch.get(switch)
        if d is None:
            raise ProfileError(f"unknown design switch {switch!r}")
        if value not in d.names:
            raise ProfileError(f'--{switch}: unknown {d.what} design "{value}" (expected one '
                               f'of: {", ".join(d.names)})')
        changes[switch] = value
    return dataclasses.replace(spec, **changes)


def check_runnable(spec: KernelSpec) -> None:
    """Refuse a kernel whose designs are not implemented yet.

    Raises:
        ProfileError: one line naming what is missing and what to use instead.
    """
    reason = unavailable_reason(spec.profile, spec.writeback, spec.rmap, spec.vmscan)
    if reason is not None:
        raise ProfileError(reason)
