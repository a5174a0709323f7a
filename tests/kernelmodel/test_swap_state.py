"""The 2.6.6 swap cache (kernelmodel/mm/swap_state.py) and swap I/O."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from test_swap_support import alloc_user_page, make_kernel

from kernelmodel.check.check_swap import _check_swap_cache, check_swap
from kernelmodel.include.page import (
    Page,
    PageDirty,
    PageLocked,
    PageSwapCache,
    PageUptodate,
    PageWriteback,
    TestClearPageDirty,
    TestSetPageLocked,
    page_count,
)
from kernelmodel.include.writeback import WritebackControl
from kernelmodel.kernel.kernel import Kernel
from kernelmodel.kernel.task import TASK_RUNNING, TASK_UNINTERRUPTIBLE, Task
from kernelmodel.lib.radix_tree import radix_tree_tagged
from kernelmodel.mm.alloc import page_cache_release
from kernelmodel.mm.pagemap import unlock_page
from kernelmodel.mm.pgtable import swp_entry, swp_offset
from kernelmodel.mm.state_generated import load_swapper_space, save_swapper_space
from kernelmodel.mm.swap_state import (
    add_to_swap,
    delete_from_swap_cache,
    lookup_swap_cache,
    read_swap_cache_async,
    swap_writepage,
    swapin_readahead,
)
from kernelmodel.mm.swapfile import (
    can_share_swap_page,
    free_swap_and_cache,
    remove_exclusive_swap_page,
    swap_duplicate,
    swap_free,
    vl_check_swap_map,
    vl_entry_sector,
)


def slot_count(k: Kernel, entry: int) -> int:
    return k.swap.swap_info[0].swap_map[swp_offset(entry)]


def swapcache_page(k: Kernel) -> tuple[Page, int]:
    """A locked page just added to the swap cache by add_to_swap (caller's ref + cache's)."""
    p = alloc_user_page(k)
    assert not TestSetPageLocked(p)
    assert add_to_swap(k, p) == 1
    return p, p.private


def bare_task(k: Kernel) -> Task:
    """A task with no program (its slices run no user code), for op helpers that sleep."""
    t = Task(k.alloc_pid(), "swapper-test", None)
    k.tasks[t.pid] = t
    return t


def finish_io(k: Kernel) -> None:
    n = 0
    while k.bios and n < 10_000:
        assert k.machine.step()
        n += 1
    assert not k.bios


def write_out(k: Kernel, p: Page) -> None:
    """shrink_list's pageout of a locked swap-cache page that a pte still references."""
    assert TestClearPageDirty(p)
    swap_writepage(k, p, WritebackControl(nr_to_write=32, nonblocking=True, for_reclaim=True))
    assert not PageLocked(p)


def test_add_to_swap_and_lookup() -> None:
    k = make_kernel()
    p, entry = swapcache_page(k)
    assert PageSwapCache(p) and PageDirty(p) and PageUptodate(p) and PageLocked(p)
    assert entry != 0 and p.private == entry and p.mapping is None
    assert page_count(p) == 2 and slot_count(k, entry) == 1
    assert k.swapper_space.nrpages == 1 and k.vmstat.nr_swapcache == 1
    # 2.6.6: swap-cache pages are never tagged in swapper_space.
    assert radix_tree_tagged(k.swapper_space.page_tree, 0) == 0
    found = lookup_swap_cache(k, entry)
    assert found is p and page_count(p) == 3
    page_cache_release(k, p)
    assert lookup_swap_cache(k, entry + 1) is None
    assert k.swapper_space.find_success == 1 and k.swapper_space.find_total == 2
    assert check_swap(k) == []
    delete_from_swap_cache(k, p)
    assert not PageSwapCache(p) and p.private == 0 and page_count(p) == 1
    assert slot_count(k, entry) == 0 and k.vmstat.nr_swapcache == 0
    unlock_page(k, p)
    assert check_swap(k) == []


def test_add_to_swap_fails_when_swap_is_full() -> None:
    k = make_kernel(swap_mb=1)  # 256 pages: 254 usable slots
    pages = []
    for _ in range(k.swap.total_swap_pages):
        pages.append(swapcache_page(k)[0])
    p = alloc_user_page(k)
    assert not TestSetPageLocked(p)
    assert add_to_swap(k, p) == 0 and not PageSwapCache(p)
    assert k.swap.nr_swap_pages == 0
    assert vl_check_swap_map(k.swap) == []


def test_swap_out_and_back_in_keeps_the_bytes() -> None:
    k = make_kernel()
    t = bare_task(k)
    p, entry = swapcache_page(k)
    data = bytes((i * 7 + 3) & 0xFF for i in range(4096))
    k.machine.mem.write(p.pfn << 12, data)
    assert swap_duplicate(k, entry) == 1  # a swap pte's reference
    write_out(k, p)
    assert PageWriteback(p) and k.vmstat.pswpout == 1
    finish_io(k)
    assert not PageWriteback(p)
    assert k.machine.disk.read_sectors(vl_entry_sector(k, entry), 8) == data
    assert not TestSetPageLocked(p)
    delete_from_swap_cache(k, p)
    unlock_page(k, p)
    page_cache_release(k, p)
    assert slot_count(k, entry) == 1  # only the pte is left
    # do_swap_page: the cache misses, the read starts and the task sleeps on the page lock.
    assert lookup_swap_cache(k, entry) is None
    assert read_swap_cache_async(k, t, entry) is None
    assert t.state == TASK_UNINTERRUPTIBLE and k.vmstat.pswpin == 1
    q = lookup_swap_cache(k, entry)
    assert q is not None and PageLocked(q) and not PageUptodate(q)
    finish_io(k)
    assert t.state == TASK_RUNNING
    assert PageUptodate(q) and not PageLocked(q)
    assert k.machine.mem.read(q.pfn << 12, 4096) == data
    # A second lookup finds the same page (minor fault).
    again = read_swap_cache_async(k, t, entry)
    assert again is q
    page_cache_release(k, q)
    page_cache_release(k, q)
    assert vl_check_swap_map(k.swap) == [] and slot_count(k, entry) == 2


def test_read_of_a_freed_entry_is_noent() -> None:
    k = make_kernel()
    t = bare_task(k)
    entry = swp_entry(0, 77)
    assert read_swap_cache_async(k, t, entry) is None
    assert t.state == TASK_RUNNING  # -ENOENT: the caller re-reads the pte
    assert k.swapper_space.noent_race == 1


def test_can_share_and_remove_exclusive() -> None:
    k = make_kernel()
    p, entry = swapcache_page(k)
    assert swap_duplicate(k, entry) == 1
    assert can_share_swap_page(k, p) == 0  # another user of the slot
    swap_free(k, entry)
    assert can_share_swap_page(k, p) == 1  # cache + us, slot count 1
    assert remove_exclusive_swap_page(k, p) == 1
    assert not PageSwapCache(p) and PageDirty(p) and page_count(p) == 1
    assert slot_count(k, entry) == 0
    assert can_share_swap_page(k, p) == 1  # an ordinary page held once
    unlock_page(k, p)
    assert check_swap(k) == []


def test_free_swap_and_cache_frees_the_last_user() -> None:
    k = make_kernel()
    free0 = k.pgdat.zone.free_pages
    p, entry = swapcache_page(k)
    assert swap_duplicate(k, entry) == 1  # the pte
    unlock_page(k, p)
    page_cache_release(k, p)  # only the swap cache holds the page now
    free_swap_and_cache(k, entry)  # zap the pte
    assert slot_count(k, entry) == 0 and k.vmstat.nr_swapcache == 0
    assert k.pgdat.zone.free_pages == free0
    assert check_swap(k) == []


def test_swapin_readahead_reads_the_cluster() -> None:
    k = make_kernel()
    entries = []
    for _ in range(6):
        p, entry = swapcache_page(k)
        swap_duplicate(k, entry)
        write_out(k, p)
        entries.append((p, entry))
    finish_io(k)
    for p, _entry in entries:
        assert not TestSetPageLocked(p)
        delete_from_swap_cache(k, p)
        unlock_page(k, p)
        page_cache_release(k, p)
    assert k.lru_pvecs.page_cluster == 2  # a 4 MiB machine: windows of 4 slots
    swapin_readahead(k, entries[1][1])  # slot 2: window 0..3 minus the header = 1..3
    assert k.swapper_space.nrpages == 3
    assert [swp_offset(e) for _p, e in entries[:3]] == [1, 2, 3]
    finish_io(k)
    assert k.lru_pvecs.lru_add_active == []  # drained onto the active list
    assert k.pgdat.zone.nr_active == 3


def test_swapper_space_round_trip() -> None:
    k = make_kernel()
    for _ in range(5):
        p, _e = swapcache_page(k)
        unlock_page(k, p)
    s1 = save_swapper_space(k.swapper_space)
    sp = load_swapper_space(s1, k.mem_map)
    assert save_swapper_space(sp) == s1


class SwapCacheMachine(RuleBasedStateMachine):
    """add_to_swap / lookup / delete / extra slot references against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.k = make_kernel(swap_mb=1)
        self.cached: dict[int, Page] = {}
        self.refs: dict[int, int] = {}  # entry -> references besides the cache's

    @rule()
    def add(self) -> None:
        p = alloc_user_page(self.k)
        assert not TestSetPageLocked(p)
        if add_to_swap(self.k, p):
            self.cached[p.private] = p
            unlock_page(self.k, p)
            page_cache_release(self.k, p)  # the cache keeps it
        else:
            assert len(self.cached) + len(self.refs) >= 1
            unlock_page(self.k, p)
            page_cache_release(self.k, p)

    @precondition(lambda self: bool(self.cached))
    @rule(data=st.data())
    def lookup(self, data: st.DataObject) -> None:
        e = data.draw(st.sampled_from(sorted(self.cached)))
        p = lookup_swap_cache(self.k, e)
        assert p is self.cached[e]
        page_cache_release(self.k, p)

    @precondition(lambda self: bool(self.cached))
    @rule(data=st.data())
    def dup(self, data: st.DataObject) -> None:
        e = data.draw(st.sampled_from(sorted(self.cached)))
        assert swap_duplicate(self.k, e) == 1
        self.refs[e] = self.refs.get(e, 0) + 1

    @precondition(lambda self: bool(self.refs))
    @rule(data=st.data())
    def zap(self, data: st.DataObject) -> None:
        e = data.draw(st.sampled_from(sorted(self.refs)))
        free_swap_and_cache(self.k, e)
        self.refs[e] -= 1
        if self.refs[e] == 0:
            del self.refs[e]
            self.cached.pop(e, None)  # the last user: the page left the cache

    @precondition(lambda self: bool(self.cached))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        e = data.draw(st.sampled_from(sorted(self.cached)))
        p = self.cached.pop(e)
        get = lookup_swap_cache(self.k, e)
        assert get is p
        assert not TestSetPageLocked(p)
        delete_from_swap_cache(self.k, p)
        unlock_page(self.k, p)
        page_cache_release(self.k, p)

    @invariant()
    def consistent(self) -> None:
        k = self.k
        problems, cached = _check_swap_cache(k)
        assert problems == []
        assert sorted(cached) == sorted(self.cached)
        si = k.swap.swap_info[0]
        for off in range(1, si.max):
            e = swp_entry(0, off)
            want = self.refs.get(e, 0) + (1 if e in self.cached else 0)
            assert si.swap_map[off] == want
        assert vl_check_swap_map(k.swap) == []


TestSwapCache = SwapCacheMachine.TestCase
TestSwapCache.settings = settings(max_examples=40, stateful_step_count=50, deadline=None)


def test_the_2_6_5_swap_cache_keeps_its_entry_in_mapping_and_index() -> None:
    """2.6.5 (pte chains): page->mapping = &swapper_space and page->index = the entry, no
    page->private; the flag view of 2.6.5 has no swapcache bit; removal clears both."""
    from kernelmodel.include.page import vl_flag_names
    from kernelmodel.mm.swapcache_fields import page_swp_entry, vl_swapcache_by_mapping

    k = make_kernel(design=("2.6.5", "lists", "pte_chain"))
    assert vl_swapcache_by_mapping(k)
    p = alloc_user_page(k)
    assert not TestSetPageLocked(p)
    assert add_to_swap(k, p) == 1
    entry = p.index
    assert p.mapping is k.swapper_space and p.private == 0
    assert page_swp_entry(k, p) == entry and lookup_swap_cache(k, entry) is p
    page_cache_release(k, p)  # lookup_swap_cache's reference
    assert "swapcache" not in vl_flag_names(p.flags, "2.6.5")
    assert "swapcache" in vl_flag_names(p.flags, "2.6.6")
    assert check_swap(k) == []
    from kernelmodel.state.restore import vl_kernel_from_state

    state = k.to_state()
    k2 = vl_kernel_from_state(state)  # mapping is a reference: restore re-links it
    assert k2.mem_map.pages[p.pfn].mapping is k2.swapper_space
    assert k2.to_state() == state and check_swap(k2) == []
    before = slot_count(k, entry)
    delete_from_swap_cache(k, p)
    assert p.mapping is None and p.index == 0 and not PageSwapCache(p)
    assert slot_count(k, entry) == before - 1
    unlock_page(k, p)
    page_cache_release(k, p)
    assert check_swap(k) == []


def test_other_profiles_keep_the_entry_in_private() -> None:
    from kernelmodel.mm.swapcache_fields import vl_swapcache_by_mapping

    for design in (("2.6.6", "tags", "pte_chain"), ("2.6.5", "lists", "anon_vma"),
                   ("2.6.7", "tags", "anonmm")):
        k = make_kernel(design=design)
        assert not vl_swapcache_by_mapping(k)
        p, entry = swapcache_page(k)
        assert p.mapping is None and entry != 0 and p.private == entry
