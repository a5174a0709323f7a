"""Boot the model: a kernel started on a machine with the model's data oracles and invariant
checker attached (the composition root; model only, no kernel counterpart or release).

Kernel-tree code never imports the oracles (kernelmodel/oracle/); it reports to whatever
implements kernel/vl_data_hooks.py. This module, above both, puts them together, and is what
runners, benchmarks and tests call.
"""

from __future__ import annotations

from kernelmodel.check.check import check_invariants
from kernelmodel.init.main import start_kernel
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.oracle.oracle import Oracle
from kernelmodel.oracle.oracle_mm import VlMmOracle
from machine.board import Machine


def vl_start_kernel(machine: Machine, cfg: KernelConfig) -> Kernel:
    """start_kernel on ``machine`` with empty data oracles and the invariant checker.

    Raises:
        ValueError: a bad configuration (one line naming the field).
    """
    k = start_kernel(machine, cfg, Oracle(), VlMmOracle())
    k.vl_checker = check_invariants
    return k
