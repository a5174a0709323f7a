"""The kernel profile table and the refusal of unimplemented designs (profiles.py)."""

from __future__ import annotations

import pytest

from scenarios import profiles
from scenarios.profiles import (
    AVAILABLE_RMAP,
    AVAILABLE_WRITEBACK,
    PROFILES,
    ProfileError,
    available_profiles,
    check_runnable,
    resolve_kernel,
    unavailable_reason,
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
                                                       rmap="pte_chain", swapin="2.6.6")
    with pytest.raises(ProfileError) as exc:
        resolve_kernel(spec, "2.6.9")
    assert str(exc.value) == ('unknown kernel profile "2.6.9" (expected one of: 2.6.5, 2.6.6, '
                              "2.6.7)")
