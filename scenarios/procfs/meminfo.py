"""/proc/meminfo of Linux 2.6.6 (fs/proc/proc_misc.c: meminfo_read_proc), from the model.

Every line is in kB: pages << (PAGE_SHIFT - 10). Where the model has no such thing:

* ``Buffers``: 0 (the model has no block-device page cache, ``nr_blockdev_pages``);
* ``Cached``: the kernel prints ``get_page_cache_size() - total_swapcache_pages -
  bufferram``; its page-cache count includes the swap cache, the model's ``nr_pagecache``
  counts file pages only, so ``Cached`` is ``nr_pagecache`` itself;
* ``HighTotal``/``HighFree``: 0 (one ZONE_NORMAL, no highmem), so ``Low*`` equal the totals;
* ``Committed_AS`` and the ``Vmalloc*`` lines: 0 (vm_committed_space and vmalloc are not
  modelled); no ``HugePages_*`` lines (no hugetlbfs).

``MemTotal`` is ``totalram_pages``: the frames ``free_all_bootmem`` gave to the buddy
allocator, that is every frame not ``PG_reserved`` (the kernel image and ZERO_PAGE are).
"""

from __future__ import annotations

from kernelmodel.include.page import M_reserved
from kernelmodel.kernel.kernel import Kernel

#: The 2.6.6 labels, in order, each padded as the kernel's format string pads it.
LABELS = (
    "MemTotal", "MemFree", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
    "HighTotal", "HighFree", "LowTotal", "LowFree", "SwapTotal", "SwapFree", "Dirty",
    "Writeback", "Mapped", "Slab", "Committed_AS", "PageTables", "VmallocTotal",
    "VmallocUsed", "VmallocChunk",
)


def totalram_pages(k: Kernel) -> int:
    """Frames the buddy allocator manages: every frame not PG_reserved."""
    return sum(1 for p in k.mem_map.pages if not p.flags & M_reserved)


def meminfo_pages(k: Kernel) -> dict[str, int]:
    """Each /proc/meminfo line's value in pages (the Vmalloc lines: kB, always 0 here)."""
    ps = k.vmstat
    zone = k.pgdat.zone
    total = totalram_pages(k)
    free = zone.free_pages
    return {
        "MemTotal": total,
        "MemFree": free,
        "Buffers": 0,
        "Cached": ps.nr_pagecache,
        "SwapCached": ps.nr_swapcache,
        "Active": zone.nr_active,
        "Inactive": zone.nr_inactive,
        "HighTotal": 0,
        "HighFree": 0,
        "LowTotal": total,
        "LowFree": free,
        "SwapTotal": k.vl_total_swap_pages(),
        "SwapFree": k.vl_nr_swap_pages(),
        "Dirty": ps.nr_dirty,
        "Writeback": ps.nr_writeback,
        "Mapped": ps.nr_mapped,
        "Slab": ps.nr_slab,
        "Committed_AS": 0,
        "PageTables": ps.nr_page_table_pages,
        "VmallocTotal": 0,
        "VmallocUsed": 0,
        "VmallocChunk": 0,
    }


def meminfo_kb(k: Kernel) -> dict[str, int]:
    """Each line's value in kB, as printed."""
    out = {}
    for name, pages in meminfo_pages(k).items():
        out[name] = pages if name.startswith("Vmalloc") else pages * 4
    return out


def meminfo(k: Kernel) -> str:
    """The text of /proc/meminfo ("MemTotal:     %8lu kB" and so on)."""
    return "".join(f"{name + ':':<14}{kb:>8} kB\n" for name, kb in meminfo_kb(k).items())
