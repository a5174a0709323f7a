"""Kernel profiles: which design each release uses, and which designs the model implements.

A profile names a release; it implies the writeback design (per-mapping page ``lists`` in
2.6.5, radix-tree ``tags`` from 2.6.6), the reverse-mapping design (``pte_chain`` up to
2.6.6, ``anon_vma`` object rmap in 2.6.7; ``anonmm`` is Hugh Dickins' alternative, selectable
only explicitly), the reclaim design (mm/vmscan.c: ``2.6.6``'s for 2.6.5 and 2.6.6 -- on
2.6.5 with 2.6.5's own details, see ``kernelmodel.mm.vmscan.vl_reclaim_2_6_5`` -- and
``2.6.7``'s rewrite for 2.6.7) and the swap-in fault (do_swap_page as in ``2.6.6``, which
2.6.5 shares, or as in ``2.6.7``). Scenarios may name any profile; a run refuses a design the
model does not implement yet.

``DESIGNS`` is the one list of design switches in the codebase: per switch its designs, the
release whose code each follows, each profile's own design and the designs the model
implements. ``vmlab run``, ``vmlab compare``, ``vmlab sweep``, the scenario loader and the
snapshot format all read it; ``vmlab run`` and ``vmlab compare`` print the origins per column
(``design_lines``), so a profile that runs another release's design says so. A new switch is
one more ``KernelSpec`` field and one more ``Design`` row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from scenarios.schema import KernelSpec

WRITEBACK_DESIGNS: Final = ("tags", "lists")
RMAP_DESIGNS: Final = ("anon_vma", "pte_chain", "anonmm")
VMSCAN_DESIGNS: Final = ("2.6.6", "2.6.7")
SWAPIN_DESIGNS: Final = ("2.6.6", "2.6.7")

#: The designs the model implements, per switch (tests narrow them to check the refusals).
AVAILABLE_WRITEBACK: Final[frozenset[str]] = frozenset({"tags", "lists"})
AVAILABLE_RMAP: Final[frozenset[str]] = frozenset({"anon_vma", "pte_chain", "anonmm"})
AVAILABLE_VMSCAN: Final[frozenset[str]] = frozenset({"2.6.6", "2.6.7"})
AVAILABLE_SWAPIN: Final[frozenset[str]] = frozenset({"2.6.6", "2.6.7"})


@dataclass(frozen=True)
class Design:
    """One design switch: the ``KernelSpec`` field (and scenario key, and ``--OPTION``) that
    holds it, what it is, its designs in the order help texts list them, for each design the
    release whose kernel code the model follows, each profile's own design, and (``detail``)
    where a profile runs a design with its own release's details, what the origin then is."""

    switch: str
    what: str
    names: tuple[str, ...]
    origin: dict[str, str]
    profile: dict[str, str]
    #: what an option taking a list of these designs says they are (``vmlab sweep --help``)
    help: str
    detail: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    @property
    def option(self) -> str:
        """The command-line option that takes designs of this switch."""
        return f"--{self.switch}"

    def origin_on(self, profile: str, value: str) -> str:
        """The release(s) whose code ``value`` follows when run on ``profile``."""
        return self.detail.get((profile, value), self.origin.get(value, "?"))


#: Every design switch, in the order columns show them.
DESIGNS: Final[tuple[Design, ...]] = (
    Design("writeback", "writeback", WRITEBACK_DESIGNS,
           {"tags": "2.6.6", "lists": "2.6.5"},
           {"2.6.5": "lists", "2.6.6": "tags", "2.6.7": "tags"},
           "lists (2.6.5's per-mapping page lists), tags (radix-tree tag walks)"),
    Design("rmap", "reverse-mapping", RMAP_DESIGNS,
           {"anon_vma": "2.6.7", "pte_chain": "2.6.5/2.6.6",
            "anonmm": "2.6.7-rc1 merge, unreleased"},
           {"2.6.5": "pte_chain", "2.6.6": "pte_chain", "2.6.7": "anon_vma"},
           "pte_chain (per-page PTE chains), anonmm (per-mm), anon_vma (object rmap)"),
    # 2.6.5's vmscan.c has 2.6.6's structure; the model runs 2.6.6's code there with 2.6.5's
    # own details (kernelmodel.mm.vmscan.vl_reclaim_2_6_5, keyed on the release).
    Design("vmscan", "page reclaim (mm/vmscan.c)", VMSCAN_DESIGNS,
           {"2.6.6": "2.6.6", "2.6.7": "2.6.7"},
           {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"},
           "2.6.6 (mm/vmscan.c as 2.6.5 and 2.6.6 have it), 2.6.7 (the scan_control rewrite)",
           {("2.6.5", "2.6.6"): "2.6.6 with 2.6.5's details"}),
    # 2.6.5's do_swap_page is 2.6.6's.
    Design("swapin", "swap-in fault (do_swap_page)", SWAPIN_DESIGNS,
           {"2.6.6": "2.6.5/2.6.6", "2.6.7": "2.6.7"},
           {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"},
           "2.6.6 (a write to a shared swapped-in page faults again), 2.6.7 (COW in the fault)"),
)

_BY_SWITCH: Final[dict[str, Design]] = {d.switch: d for d in DESIGNS}

#: profile -> (writeback, rmap), read from ``DESIGNS``.
PROFILES: Final[dict[str, tuple[str, str]]] = {
    p: (_BY_SWITCH["writeback"].profile[p], _BY_SWITCH["rmap"].profile[p])
    for p in _BY_SWITCH["writeback"].profile}
#: profile -> its reclaim design, read from ``DESIGNS``.
PROFILE_VMSCAN: Final[dict[str, str]] = _BY_SWITCH["vmscan"].profile
#: profile -> the release whose do_swap_page it runs, read from ``DESIGNS``.
SWAPIN: Final[dict[str, str]] = _BY_SWITCH["swapin"].profile

#: What each release profile stands for, after its writeback and reverse-mapping designs
#: (``profile_description``; the dashboard's header quotes it).
PROFILE_NOTES: Final[dict[str, str]] = {
    "2.6.5": "the design 2.6.6 replaced",
    "2.6.6": "mainline 2.6.6",
    "2.6.7": "the 2.6.6-cycle design, shipped in 2.6.7",
}


def design(switch: str) -> Design:
    """The ``DESIGNS`` row of a switch (``switch`` must be one)."""
    return _BY_SWITCH[switch]


def profile_spec(profile: str) -> KernelSpec:
    """The kernel a profile names, with its own designs (``profile`` must be a key of
    ``PROFILES``)."""
    return KernelSpec(profile=profile, **{d.switch: d.profile[profile] for d in DESIGNS})


def overridden(spec: KernelSpec) -> list[Design]:
    """The switches whose design differs from the profile's own, in ``DESIGNS`` order."""
    own = profile_spec(spec.profile)
    return [d for d in DESIGNS if getattr(spec, d.switch) != getattr(own, d.switch)]


def profile_description(profile: str) -> str:
    """"tags + anon_vma: the 2.6.6-cycle design, shipped in 2.6.7" (``profile`` must be a key
    of ``PROFILES``)."""
    writeback, rmap = PROFILES[profile]
    return f"{writeback} + {rmap}: {PROFILE_NOTES[profile]}"


def kernel_label(spec: KernelSpec) -> str:
    """"kernel 2.6.7 (tags + anon_vma: the 2.6.6-cycle design, shipped in 2.6.7)".

    A kernel whose switches differ from its profile's says so instead of quoting the note.
    """
    if spec.profile in PROFILE_NOTES and not overridden(spec):
        return f"kernel {spec.profile} ({profile_description(spec.profile)})"
    return (f"kernel {spec.profile} ({spec.writeback} + {spec.rmap}, vmscan {spec.vmscan}, "
            f"swapin {spec.swapin}, set by switches)")


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
        origin = d.origin_on(spec.profile, value)
        mine = str(getattr(own, d.switch))
        if brief:  # a design named after its release says the switch, others the release
            mark = "*" if value != mine else ""
            if value in d.profile.values() and value[:1].isdigit():
                extra = f" ({origin[len(value):].strip()})" if origin != value and \
                    origin.startswith(value) else ""
                lines.append(f"{d.switch} {value}{mark}{extra}")
            else:
                lines.append(f"{value}{mark} ({origin})")
            continue
        text = f"{d.switch} {value} ({origin}"
        if value != mine:
            text += f"; profile {spec.profile} has {mine}"
        lines.append(text + ")")
    return lines


def design_origins(spec: KernelSpec) -> dict[str, str]:
    """Which release's code each design of a kernel follows, per switch."""
    return {d.switch: d.origin_on(spec.profile, str(getattr(spec, d.switch))) for d in DESIGNS}


def _available(switch: str) -> frozenset[str]:
    table = {"writeback": AVAILABLE_WRITEBACK, "rmap": AVAILABLE_RMAP,
             "vmscan": AVAILABLE_VMSCAN, "swapin": AVAILABLE_SWAPIN}
    return table.get(switch, frozenset())


def available_profiles() -> list[str]:
    """Profiles whose designs are all implemented, in release order."""
    return [name for name in PROFILES if _missing(profile_spec(name)) == []]


def _missing(spec: KernelSpec) -> list[str]:
    return [f"{d.switch}={getattr(spec, d.switch)}" for d in DESIGNS
            if getattr(spec, d.switch) not in _available(d.switch)]


def unavailable_reason(profile: str, writeback: str, rmap: str,
                       vmscan: str | None = None, swapin: str | None = None) -> str | None:
    """Why a run on this kernel cannot start yet, as one line; None when it can.

    Args:
        profile: a key of ``PROFILES``.
        writeback: the writeback design (the profile's unless overridden).
        rmap: the reverse-mapping design (the profile's unless overridden).
        vmscan: the reclaim design; None: the profile's own.
        swapin: the swap-in design; None: the profile's own.
    """
    if profile in PROFILES:
        base = profile_spec(profile)
    else:
        base = KernelSpec(profile=profile, writeback=writeback, rmap=rmap,
                          vmscan=VMSCAN_DESIGNS[-1], swapin=SWAPIN_DESIGNS[-1])
    spec = with_designs(base, writeback=writeback, rmap=rmap, vmscan=vmscan, swapin=swapin,
                        check=False)
    missing = _missing(spec)
    if not missing:
        return None
    label = f"kernel profile {profile}"
    changed = overridden(spec) if profile in PROFILES else list(DESIGNS[:2])
    if changed:
        names = [d.switch for d in changed]
        label = f"kernel {profile} with " + ", ".join(
            f"{d.switch}={getattr(spec, d.switch)}" for d in DESIGNS
            if d.switch in ("writeback", "rmap") or d.switch in names)
    verb = "is" if len(missing) == 1 else "are"
    avail = available_profiles()
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


def with_designs(spec: KernelSpec, check: bool = True, **designs: str | None) -> KernelSpec:
    """``spec`` with the given switches replaced (a None value keeps the spec's own).

    Raises:
        ProfileError: an unknown switch or (``check``) design name.
    """
    changes: dict[str, str] = {}
    for switch, value in designs.items():
        if value is None:
            continue
        d = _BY_SWITCH.get(switch)
        if d is None:
            raise ProfileError(f"unknown design switch {switch!r}")
        if check and value not in d.names:
            raise ProfileError(f'--{switch}: unknown {d.what} design "{value}" (expected one '
                               f'of: {", ".join(d.names)})')
        changes[switch] = value
    return dataclasses.replace(spec, **changes)


def check_runnable(spec: KernelSpec) -> None:
    """Refuse a kernel whose designs are not implemented yet.

    Raises:
        ProfileError: one line naming what is missing and what to use instead.
    """
    reason = unavailable_reason(spec.profile, spec.writeback, spec.rmap, spec.vmscan,
                                spec.swapin)
    if reason is not None:
        raise ProfileError(reason)
