"""start_kernel: build the kernel on a machine and start its kernel threads (init/main.c,
2.6.6; simplified: the model's boot is the few steps that leave state behind).

``Kernel.__init__`` sets up what C initialises statically or in setup_arch (mem_map, the zone
and its buddy allocator, the zero page, empty subsystem state); ``start_kernel`` then mounts
the filesystem, enables swap and starts pdflush and kswapd, as the kernel's initcalls do.
"""

from __future__ import annotations

from kernelmodel.fs.fs import vl_fs_init
from kernelmodel.kernel.config import KernelConfig
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.vl_data_hooks import VlFileOracleHooks, VlMmOracleHooks
from kernelmodel.mm.page_writeback import vl_start_pdflush
from kernelmodel.mm.swapfile import vl_swap_boot
from kernelmodel.mm.vmscan import vl_start_kswapd
from machine.board import Machine


def start_kernel(
    machine: Machine, cfg: KernelConfig, oracle: VlFileOracleHooks, mm_oracle: VlMmOracleHooks
) -> Kernel:
    """start_kernel(): build the kernel on ``machine`` and start its kernel threads; it reports
    to the (empty) data oracles given (``kernelmodel.boot.vl_start_kernel`` gives the model's).

    Raises:
        ValueError: a bad configuration (one line naming the field).
    """
    cfg.validate()
    if cfg.swap_bytes >= machine.disk.nsectors * 512:
        raise ValueError("machine.swap: the swap area must be smaller than the disk")
    k = Kernel(machine, cfg, oracle, mm_oracle)
    machine.attach(k, k)
    vl_fs_init(k)
    vl_swap_boot(k)
    vl_start_pdflush(k)
    vl_start_kswapd(k)
    return k
