"""/proc/vmstat of Linux 2.6.6 (mm/page_alloc.c: vmstat_text and vmstat_show), from the
model's page_state counters: "name value" lines, in 2.6.6's order, with 2.6.6's names.

2.6.6 splits several counters per zone (``_high``, ``_normal``, ``_dma``) and the scan
counter by who scanned (``pgscan_kswapd_*``, ``pgscan_direct_*``). The model has one
ZONE_NORMAL, so its counts are the ``_normal`` lines and the other zones show 0. It counts
scanned pages in one ``pgscan``, without saying who scanned: that count is shown as
``pgscan_kswapd_normal`` and ``pgscan_direct_normal`` is 0 (``allocstall`` says how often
an allocation reclaimed directly). The model does not shrink slab caches or inodes:
``pginodesteal``, ``slabs_scanned`` and ``kswapd_inodesteal`` are 0. ``pgpgin`` and
``pgpgout`` are in kB, as 2.6.6 prints them (it counts sectors and halves them).
"""

from __future__ import annotations

from typing import Final

from kernelmodel.kernel.kernel import Kernel

#: 2.6.6's vmstat_text: each name and the model counter it shows ("" = always 0).
VMSTAT_266: Final = (
    ("nr_dirty", "nr_dirty"),
    ("nr_writeback", "nr_writeback"),
    ("nr_unstable", "nr_unstable"),
    ("nr_page_table_pages", "nr_page_table_pages"),
    ("nr_mapped", "nr_mapped"),
    ("nr_slab", "nr_slab"),
    ("pgpgin", "pgpgin"),
    ("pgpgout", "pgpgout"),
    ("pswpin", "pswpin"),
    ("pswpout", "pswpout"),
    ("pgalloc_high", ""),
    ("pgalloc_normal", "pgalloc"),
    ("pgalloc_dma", ""),
    ("pgfree", "pgfree"),
    ("pgactivate", "pgactivate"),
    ("pgdeactivate", "pgdeactivate"),
    ("pgfault", "pgfault"),
    ("pgmajfault", "pgmajfault"),
    ("pgrefill_high", ""),
    ("pgrefill_normal", "pgrefill"),
    ("pgrefill_dma", ""),
    ("pgsteal_high", ""),
    ("pgsteal_normal", "pgsteal"),
    ("pgsteal_dma", ""),
    ("pgscan_kswapd_high", ""),
    ("pgscan_kswapd_normal", "pgscan"),
    ("pgscan_kswapd_dma", ""),
    ("pgscan_direct_high", ""),
    ("pgscan_direct_normal", ""),
    ("pgscan_direct_dma", ""),
    ("pginodesteal", ""),
    ("slabs_scanned", ""),
    ("kswapd_steal", "kswapd_steal"),
    ("kswapd_inodesteal", ""),
    ("pageoutrun", "pageoutrun"),
    ("allocstall", "allocstall"),
    ("pgrotated", "pgrotated"),
)


def vmstat_values(k: Kernel) -> dict[str, int]:
    """Every 2.6.6 /proc/vmstat name with its value now."""
    counters = k.vmstat.as_dict()
    return {name: counters[source] if source else 0 for name, source in VMSTAT_266}


def vmstat(k: Kernel) -> str:
    """The text of /proc/vmstat."""
    return "".join(f"{name} {value}\n" for name, value in vmstat_values(k).items())
