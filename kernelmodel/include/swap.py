"""The swap subsystem's shared structs, as include/linux/swap.h declares them (2.6.6).

swap_info[] and swap_list (mm/swapfile.c), the per-CPU LRU pagevecs (mm/swap.c), kswapd's and
direct reclaim's bookkeeping (mm/vmscan.c) and out_of_memory's statics (mm/oom_kill.c): the
globals ``k`` holds (``k.swap``, ``k.lru_pvecs``, ``k.kswapd``, ``k.oom``). The functions that
work on them stay in mm/, beside the C code they follow; the structs are here so the kernel's
global state can be declared without importing mm/ (as C's headers let kernel/ name them).
swapper_space stays in mm/swap_state.py: its page tree is lib/'s radix tree, which include/
may not import. The save and load functions are generated into ``swap_generated.py``.
"""

from __future__ import annotations

from typing import Final, final

from machine.state_read import read_int_pairs

#: A count that reached SWAP_MAP_MAX stays there ("permanent" until swapoff).
SWAP_MAP_MAX: Final = 0x7FFF
#: The count of a slot that must never be used (the header, bad blocks).
SWAP_MAP_BAD: Final = 0x8000

# swap_info_struct.flags
SWP_USED: Final = 1
SWP_WRITEOK: Final = 2
SWP_ACTIVE: Final = SWP_USED | SWP_WRITEOK

#: The largest offset an i386 swap pte can hold (24 bits) is the arch limit on maxpages.
SWP_OFFSET_MAX: Final = (1 << 24) - 1
#: Pages per pagevec (include/linux/pagevec.h).
PAGEVEC_SIZE: Final = 16
#: out_of_memory's statics start "long ago", as jiffies start at INITIAL_JIFFIES.
_LONG_AGO: Final = -(1 << 60)


@final
class SwapInfoStruct:
    """struct swap_info_struct (include/linux/swap.h): one swap area.

    Attributes:
        flags: SWP_USED / SWP_WRITEOK.
        prio: swap priority (the first swapon without a priority gets -1).
        swap_map: per-slot reference counts (SWAP_MAP_BAD for unusable slots).
        lowest_bit, highest_bit: bounds of the free slots.
        cluster_next: where the current cluster continues.
        cluster_nr: allocations left in the current cluster.
        pages: usable slots (nr_good_pages).
        max: slots covered by swap_map (maxpages).
        inuse_pages: slots with a non-zero count.
        next: the next area on swap_list (-1 for none).
        start_sector: first sector of the area on the disk (model: the bdev and its one
            swap_extent).
    """

    # state generated: swap_generated
    def __init__(self) -> None:
        self.flags: int = 0  # state
        self.prio: int = 0  # state
        self.max: int = 0  # state
        self.swap_map: list[int] = []  # state: custom
        self.lowest_bit: int = 0  # state
        self.highest_bit: int = 0  # state
        self.cluster_next: int = 0  # state
        self.cluster_nr: int = 0  # state
        self.pages: int = 0  # state
        self.inuse_pages: int = 0  # state
        self.next: int = -1  # state
        self.start_sector: int = 0  # state

    def vl_save_swap_map(self, out: dict[str, object]) -> None:
        """The swap map, sparsely: ``[offset, count]`` of every slot in use."""
        out["swap_map"] = [[off, cnt] for off, cnt in enumerate(self.swap_map) if cnt != 0]

    def vl_load_swap_map(self, state: dict[str, object]) -> None:
        """The swap map back from ``vl_save_swap_map`` output (``max`` is loaded first)."""
        if self.max < 0 or self.max > SWP_OFFSET_MAX + 1:
            raise ValueError("swap_info state: max out of range")
        self.swap_map = [0] * self.max
        for off, cnt in read_int_pairs(state, "swap_map", "swap_info state").items():
            if not 0 <= off < self.max:
                raise ValueError("swap_info state: bad swap_map entry")
            self.swap_map[off] = cnt

    def __repr__(self) -> str:
        return (
            f"<swap_info flags={self.flags} prio={self.prio} pages={self.pages} "
            f"inuse={self.inuse_pages} lowest={self.lowest_bit} highest={self.highest_bit} "
            f"cluster={self.cluster_next}/{self.cluster_nr}>"
        )


@final
class SwapState:
    """The globals of mm/swapfile.c: swap_info[], nr_swapfiles, swap_list and the page counts.

    Attributes:
        swap_info: the areas by type (one in the model; the array grows on swapon).
        nr_swapfiles: areas ever set up.
        swap_list_head, swap_list_next: struct swap_list_t (priority order; -1 = none).
        nr_swap_pages: free slots over all active areas.
        total_swap_pages: usable slots over all active areas.
        swap_overflow: how often swap_duplicate hit SWAP_MAP_MAX.
        least_priority: sys_swapon's static counter for areas without a priority.
    """

    # state generated: swap_generated
    def __init__(self) -> None:
        self.swap_info: list[SwapInfoStruct] = []  # state
        self.nr_swapfiles: int = 0  # state
        self.swap_list_head: int = -1  # state
        self.swap_list_next: int = -1  # state
        self.nr_swap_pages: int = 0  # state
        self.total_swap_pages: int = 0  # state
        self.swap_overflow: int = 0  # state
        self.least_priority: int = 0  # state

    def __repr__(self) -> str:
        return (
            f"<swap areas={len(self.swap_info)} free={self.nr_swap_pages} "
            f"total={self.total_swap_pages}>"
        )


@final
class LruPvecs:
    """The per-CPU ``lru_add_pvecs`` and ``lru_add_active_pvecs`` and ``page_cluster``.

    Attributes:
        lru_add: pfns waiting to go to the inactive list, oldest first.
        lru_add_active: pfns waiting to go to the active list, oldest first.
        page_cluster: log2 of the swap readahead window (swap_setup: 2 below 16 MiB, else 3).
    """

    # state generated: swap_generated
    def __init__(self) -> None:
        self.lru_add: list[int] = []  # state
        self.lru_add_active: list[int] = []  # state
        self.page_cluster: int = 3  # state: range=0..8

    def vl_check_state(self) -> None:
        """The loader's check across fields: a pagevec holds at most PAGEVEC_SIZE pages."""
        if len(self.lru_add) > PAGEVEC_SIZE or len(self.lru_add_active) > PAGEVEC_SIZE:
            raise ValueError("lru pagevecs state: a pagevec holds more than 16 pages")

    def __repr__(self) -> str:
        return f"<lru pagevecs add={self.lru_add} add_active={self.lru_add_active}>"


@final
class DirectReclaim:
    """The locals of a try_to_free_pages call that stopped where the kernel naps.

    Attributes:
        pid: the reclaiming task.
        priority: the priority the call continues at.
        nr_reclaimed: pages freed so far by the whole call.
        total_scanned: pages scanned so far (wakeup_bdflush's threshold).
        do_writepage: laptop mode's write switch (no effect in the model).
        nap_time: when the call stopped (simulated ns).
    """

    # state row
    # state generated: swap_generated
    def __init__(
        self, pid: int, priority: int, nr_reclaimed: int, total_scanned: int,
        do_writepage: bool, nap_time: int,
    ) -> None:
        self.pid: int = pid  # state
        self.priority: int = priority  # state
        self.nr_reclaimed: int = nr_reclaimed  # state
        self.total_scanned: int = total_scanned  # state
        self.do_writepage: bool = do_writepage  # state
        self.nap_time: int = nap_time  # state


@final
class KswapdState:
    """vmscan.c's globals and pgdat->kswapd bookkeeping (``k.kswapd``).

    Attributes:
        pid: the kswapd kernel thread, or -1 before vl_start_kswapd.
        total_memory: nr_free_pagecache_pages() at kswapd_init (the base of mapped_ratio).
        direct: direct reclaim calls stopped at a nap, by task pid (try_to_free_pages).
    """

    # state generated: swap_generated
    def __init__(self) -> None:
        self.pid: int = -1  # state
        self.total_memory: int = 0  # state
        # a state saved before the stopped calls were kept has none
        self.direct: dict[int, DirectReclaim] = {}  # state: keyed=pid, optional

    def __repr__(self) -> str:
        return f"<kswapd pid={self.pid} total_memory={self.total_memory}>"


@final
class OomState:
    """out_of_memory()'s static variables (simulated ns) and the model's kill record.

    Attributes:
        first, last: time of the first failure of the current series, and of the last one.
        count: failures in the current series.
        lastkill: time of the last kill.
        victims: pids killed so far, in order (model record for reports and tests).
    """

    # state generated: swap_generated
    def __init__(self) -> None:
        self.first: int = _LONG_AGO  # state
        self.last: int = _LONG_AGO  # state
        self.count: int = 0  # state
        self.lastkill: int = _LONG_AGO  # state
        self.victims: list[int] = []  # state

    def __repr__(self) -> str:
        return f"<oom count={self.count} lastkill={self.lastkill} victims={self.victims}>"
