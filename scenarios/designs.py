"""The kernel's design switches as one table: what ``vmlab compare`` and ``vmlab sweep`` vary.

A kernel configuration is a release profile plus one design per axis: how writeback finds
dirty pages (``writeback``), how reclaim finds the ptes of a page (``rmap``). Each axis is
a field of ``scenarios.schema.KernelSpec`` and of ``scenarios.compare.Configuration`` with
the same name, and a command-line option taking a comma-separated list of designs. The
planners, the option parsers and the result columns all read this table, so a new switch is
one more ``DesignAxis`` here (beside its field in ``KernelSpec`` and ``Configuration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scenarios.profiles import RMAP_DESIGNS, WRITEBACK_DESIGNS, resolve_kernel
from scenarios.schema import KernelSpec


@dataclass(frozen=True)
class DesignAxis:
    """One design switch of the kernel."""

    #: the field of ``KernelSpec`` and ``Configuration`` (and the results' column)
    field: str
    #: the command-line option that takes a list of designs
    option: str
    #: every design of the axis, implemented or not (``scenarios.profiles`` says which are)
    choices: tuple[str, ...]
    #: how a message names one value: 'unknown writeback design "x"'
    what: str
    #: what the option's --help says the designs are
    help: str

    def own(self, profile: str) -> str:
        """The design a release profile ships with on this axis."""
        return str(getattr(resolve_kernel(KernelSpec(), profile), self.field))

    def of(self, spec: KernelSpec) -> str:
        """The design a kernel section uses on this axis."""
        return str(getattr(spec, self.field))


#: Every design switch, in the order configurations nest (kernels x writeback x rmap).
DESIGN_AXES: Final[tuple[DesignAxis, ...]] = (
    DesignAxis("writeback", "--writeback", WRITEBACK_DESIGNS, "writeback design",
               "lists (2.6.5's per-mapping page lists), tags (radix-tree tag walks)"),
    DesignAxis("rmap", "--rmap", RMAP_DESIGNS, "reverse-mapping design",
               "pte_chain (per-page PTE chains), anonmm (per-mm), anon_vma (object rmap)"),
)
