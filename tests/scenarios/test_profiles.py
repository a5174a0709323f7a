"""The kernel profile table and the refusal of unimplemented designs (profiles.py)."""

from __future__ import annotations

import pytest

from scenarios import profiles
from scenarios.profiles import (
    AVAILABLE_RMAP,
    AVAILABLE_WRITEBACK,
    DESIGNS,
    PROFILE_VMSCAN,
    PROFILES,
    ProfileError,
    available_profiles,
    check_runnable,
    design_lines,
    overridden,
    profile_spec,
    resolve_kernel,
    unavailable_reason,
    with_designs,
)
from scenarios.schema import KernelSpec


def test_table() -> None:
    assert PROFILES == {"2.6.5": ("lists", "pte_chain"), "2.6.6": ("tags", "pte_chain"),
                        "2.6.7": ("tags", "anon_vma")}
    assert {"tags"} <= AVAILABLE_WRITEBACK
    assert {"anon_vma"} <= AVAILABLE_RMAP
    assert "2.6.7" in available_profiles()


def test_refusal_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    # as the model stood before the alternatives existed: only tags and anon_vma
    monkeypatch.setattr(profiles, "AVAILABLE_WRITEBACK", frozenset({"tags"}))
    monkeypatch.setattr(profiles, "AVAILABLE_RMAP", frozenset({"anon_vma"}))
    assert unavailable_reason("2.6.5", "lists", "pte_chain") == (
        "kernel profile 2.6.5 is not available yet (writeback=lists, rmap=pte_chain are not "
        "implemented); use 2.6.7")
    assert unavailable_reason("2.6.7", "tags", "anon_vma") is None
    assert unavailable_reason("2.6.7", "lists", "anon_vma") == (
        "kernel 2.6.7 with writeback=lists, rmap=anon_vma is not available yet "
        "(writeback=lists is not implemented); use 2.6.7")


def test_check_runnable_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "AVAILABLE_RMAP", frozenset({"anon_vma"}))
    with pytest.raises(ProfileError, match="kernel profile 2.6.6 is not available yet "
                                           r"\(rmap=pte_chain is not implemented\); use 2.6.7"):
        check_runnable(KernelSpec(profile="2.6.6", writeback="tags", rmap="pte_chain"))
    check_runnable(KernelSpec())


def test_resolve_kernel() -> None:
    spec = KernelSpec(profile="2.6.7", writeback="tags", rmap="anonmm")
    assert resolve_kernel(spec, None) is spec
    assert resolve_kernel(spec, "2.6.5") == KernelSpec(profile="2.6.5", writeback="lists",
                                                       rmap="pte_chain", vmscan="2.6.6",
                                                       swapin="2.6.6")
    whole = KernelSpec(profile="2.6.7", vmscan="2.6.6")
    assert resolve_kernel(spec, whole) is whole
    with pytest.raises(ProfileError) as exc:
        resolve_kernel(spec, "2.6.9")
    assert str(exc.value) == ('unknown kernel profile "2.6.9" (expected one of: 2.6.5, 2.6.6, '
                              "2.6.7)")


def test_every_design_says_which_release_it_follows() -> None:
    assert [d.switch for d in DESIGNS] == ["writeback", "rmap", "vmscan", "swapin"]
    for d in DESIGNS:
        assert set(d.origin) == set(d.names)
        for p in PROFILES:
            assert getattr(profile_spec(p), d.switch) in d.names
    assert PROFILE_VMSCAN == {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"}
    assert profiles.SWAPIN == {"2.6.5": "2.6.6", "2.6.6": "2.6.6", "2.6.7": "2.6.7"}


def test_the_2_6_5_profile_says_its_reclaim_has_2_6_5_details() -> None:
    """2.6.5 runs 2.6.6's reclaim code with 2.6.5's own details (keyed on the release): its
    origin says so, while 2.6.6's reclaim switched onto another profile is plain 2.6.6."""
    assert design_lines(profile_spec("2.6.5"))[2] == "vmscan 2.6.6 (2.6.6 with 2.6.5's details)"
    assert design_lines(profile_spec("2.6.5"), brief=True)[2] == \
        "vmscan 2.6.6 (with 2.6.5's details)"
    assert design_lines(profile_spec("2.6.5"))[3] == "swapin 2.6.6 (2.6.5/2.6.6)"
    on_267 = with_designs(profile_spec("2.6.7"), vmscan="2.6.6")
    assert design_lines(on_267)[2] == "vmscan 2.6.6 (2.6.6; profile 2.6.7 has 2.6.7)"


def test_design_lines_name_the_release_and_an_override() -> None:
    own = profile_spec("2.6.7")
    assert overridden(own) == []
    assert design_lines(own) == ["writeback tags (2.6.6)", "rmap anon_vma (2.6.7)",
                                 "vmscan 2.6.7 (2.6.7)", "swapin 2.6.7 (2.6.7)"]
    old = with_designs(own, vmscan="2.6.6")
    assert [d.switch for d in overridden(old)] == ["vmscan"]
    assert design_lines(old)[2] == "vmscan 2.6.6 (2.6.6; profile 2.6.7 has 2.6.7)"
    assert design_lines(old, brief=True) == ["tags (2.6.6)", "anon_vma (2.6.7)",
                                             "vmscan 2.6.6*", "swapin 2.6.7"]
    assert with_designs(own, vmscan=None) is not None and with_designs(own) == own
    with pytest.raises(ProfileError, match=r'--vmscan: unknown page reclaim .* "2\.6\.8"'):
        with_designs(own, vmscan="2.6.8")


def test_unimplemented_reclaim_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "AVAILABLE_VMSCAN", frozenset({"2.6.6"}))
    assert unavailable_reason("2.6.7", "tags", "anon_vma") == (
        "kernel profile 2.6.7 is not available yet (vmscan=2.6.7 is not implemented); "
        "use 2.6.6")
    assert unavailable_reason("2.6.7", "tags", "anon_vma", "2.6.6") is None
    with pytest.raises(ProfileError, match=r"vmscan=2\.6\.7 is not implemented"):
        check_runnable(KernelSpec(profile="2.6.6", vmscan="2.6.7"))
