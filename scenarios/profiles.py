"""Kernel profiles: which design each release uses, and which designs the model implements.

A profile names a release; it implies the writeback design (per-mapping page ``lists`` in
2.6.5, radix-tree ``tags`` from 2.6.6), the reverse-mapping design (``pte_chain`` up to
2.6.6, ``anon_vma`` object rmap in 2.6.7; ``anonmm`` is Hugh Dickins' alternative, selectable
only explicitly) and the swap-in fault (``SWAPIN``: do_swap_page as in ``2.6.6``, which 2.6.5
shares, or as in ``2.6.7``). Scenarios may name any profile; a run refuses a design the model
does not implement yet. This table is the one place that says so: implementing a design means adding
it to ``AVAILABLE_WRITEBACK`` or ``AVAILABLE_RMAP``.
"""

from __future__ import annotations

from typing import Final

from scenarios.schema import KernelSpec

#: profile -> (writeback, rmap)
PROFILES: Final[dict[str, tuple[str, str]]] = {
    "2.6.5": ("lists", "pte_chain"),
    "2.6.6": ("tags", "pte_chain"),
    "2.6.7": ("tags", "anon_vma"),
}

#: profile -> the release whose do_swap_page it runs (2.6.5's is 2.6.6's).
SWAPIN: Final[dict[str, str]] = {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"}
SWAPIN_DESIGNS: Final = ("2.6.6", "2.6.7")

WRITEBACK_DESIGNS: Final = ("tags", "lists")
RMAP_DESIGNS: Final = ("anon_vma", "pte_chain", "anonmm")

AVAILABLE_WRITEBACK: Final[frozenset[str]] = frozenset({"tags", "lists"})
AVAILABLE_RMAP: Final[frozenset[str]] = frozenset({"anon_vma", "pte_chain", "anonmm"})


def available_profiles() -> list[str]:
    """Profiles whose designs are all implemented, in release order."""
    return [
        name for name, (wb, rmap) in PROFILES.items()
        if wb in AVAILABLE_WRITEBACK and rmap in AVAILABLE_RMAP
    ]


def unavailable_reason(profile: str, writeback: str, rmap: str) -> str | None:
    """Why a run on this kernel cannot start yet, as one line; None when it can.

    Args:
        profile: a key of ``PROFILES``.
        writeback: the writeback design (the profile's unless overridden).
        rmap: the reverse-mapping design (the profile's unless overridden).
    """
    missing = []
    if writeback not in AVAILABLE_WRITEBACK:
        missing.append(f"writeback={writeback}")
    if rmap not in AVAILABLE_RMAP:
        missing.append(f"rmap={rmap}")
    if not missing:
        return None
    label = f"kernel profile {profile}"
    if (writeback, rmap) != PROFILES.get(profile):
        label = f"kernel {profile} with writeback={writeback}, rmap={rmap}"
    verb = "is" if len(missing) == 1 else "are"
    avail = available_profiles()
    use = f"; use {avail[-1]}" if avail else ""
    return f"{label} is not available yet ({', '.join(missing)} {verb} not implemented){use}"


class ProfileError(ValueError):
    """A kernel the run cannot use (unknown profile or unimplemented design); one line."""


def resolve_kernel(spec: KernelSpec, profile: str | None) -> KernelSpec:
    """The kernel a run uses: the scenario's, or ``profile`` with that profile's designs.

    Raises:
        ProfileError: ``profile`` is not a known profile.
    """
    if profile is None:
        return spec
    if profile not in PROFILES:
        raise ProfileError(f'unknown kernel profile "{profile}" (expected one of: '
                           f'{", ".join(PROFILES)})')
    wb, rmap = PROFILES[profile]
    return KernelSpec(profile=profile, writeback=wb, rmap=rmap, swapin=SWAPIN[profile])


#: design -> the releases that shipped it ("2.6.5-6": 2.6.5 and 2.6.6; anonmm was in the
#: 2.6.7 merge only, never released).
WRITEBACK_RELEASES: Final[dict[str, str]] = {"lists": "2.6.5", "tags": "2.6.6-7"}
RMAP_RELEASES: Final[dict[str, str]] = {"pte_chain": "2.6.5-6", "anon_vma": "2.6.7",
                                        "anonmm": "unreleased"}
SWAPIN_RELEASES: Final[dict[str, str]] = {"2.6.6": "2.6.5-6", "2.6.7": "2.6.7"}


def design_origins(spec: KernelSpec) -> str:
    """Which release each design of a kernel comes from, as one line: ``writeback=tags
    (2.6.6-7), rmap=pte_chain (2.6.5-6), swapin=2.6.6 (2.6.5-6)``."""
    return (f"writeback={spec.writeback} ({WRITEBACK_RELEASES[spec.writeback]}), "
            f"rmap={spec.rmap} ({RMAP_RELEASES[spec.rmap]}), "
            f"swapin={spec.swapin} ({SWAPIN_RELEASES[spec.swapin]})")


def check_runnable(spec: KernelSpec) -> None:
    """Refuse a kernel whose designs are not implemented yet.

    Raises:
        ProfileError: one line naming what is missing and what to use instead.
    """
    reason = unavailable_reason(spec.profile, spec.writeback, spec.rmap)
    if reason is not None:
        raise ProfileError(reason)
