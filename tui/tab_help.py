"""A short help for each dashboard tab: what it shows and the kernel words it uses.

The help screen (``?``) opens with the help of the tab in view, then lists every key. The texts
are for a learner who knows what a process and a file are, not how Linux manages memory; the
kernel guide (docs/kernel-guide.md) says more.
"""

from __future__ import annotations

from typing import Final

from tui.frame_style import FRAME_GLYPHS, STATE_MEANINGS

_GLYPHS: Final = "\n".join(f"  {g} {m}" for g, m in zip(FRAME_GLYPHS, STATE_MEANINGS,
                                                              strict=True))

#: tab id -> (title, paragraphs).
TAB_HELP: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "page": ("The frame map and the Page tab", (
        "The map draws every physical frame (4 KiB of RAM) as one cell; its glyph and colour "
        f"say what the kernel uses it for:\n{_GLYPHS}",
        "Zoomed out, a cell stands for several frames and shows the most notable of them "
        "(L, then W, then D), else the commonest; · only when all of them are free. "
        "Click a frame, or move the cursor, to see its struct page here.",
        "struct page fields: flags (the PG_ bits by name), _count (references held), "
        "mapping (the file's address_space, or for anonymous memory the anon_vma on 2.6.7), "
        "index (the page's offset in its file, in pages) and private.",
        "The swap cache holds anonymous pages that have a slot in swap: reclaim gives a page "
        "a slot and writes it there before freeing it, and a process that touches it again "
        "finds it in the swap cache without reading the disk. From 2.6.6 the page records "
        "its slot in page->private and carries PG_swapcache.",
        "The reverse map lists every page-table entry that maps the frame: found through a "
        "chain of pte addresses kept per page on 2.6.5 and 2.6.6, through the anon_vma's or "
        "the file's list of VMAs on 2.6.7.",
    )),
    "tasks": ("The Tasks tab", (
        "One row per task: its state, what it is doing or waiting on, its resident pages "
        "(RSS) and its minor/major page faults (a major fault had to read the disk).",
        "Below: the selected task's VMAs, the address ranges it has mapped, with their "
        "permissions and what backs them (a file from pgoff, or anonymous memory).",
        "Walk address: type an address and press enter to follow it through the i386 page "
        "directory and page table to its frame; the map jumps there. Escape leaves the box "
        "(digits typed in it never switch tabs).",
    )),
    "cache": ("The Page cache tab", (
        "Every cached file keeps its pages in a radix tree indexed by page offset, 64 slots a "
        "node. Since 2.6.6 each node also holds two tags per slot, DIRTY and WRITEBACK.",
        "A tag is one bit that says the page in that slot, or some page below it, is dirty "
        "(or under writeback). Writeback and fsync follow the tags from the root and skip "
        "every untagged subtree, so they find just those pages, in file-offset order. "
        "2.6.5 had no tags: it kept each file's pages on clean, dirty, io and locked lists.",
        "Slots in the tree view: . empty, o clean page, + interior node, D dirty, "
        "W writeback, B both tags.",
    )),
    "disk": ("The Disk tab", (
        "The disk head, its queue, and the requests by sector over simulated time: where "
        "the writes land shows the order writeback chose.",
        "pdflush is the kernel's pool of writeback threads. When dirty pages pass "
        "dirty_background_ratio (10 % of memory) it writes them back in chunks of 1024 "
        "pages; a process that dirties past dirty_ratio (40 %) is throttled and helps.",
        "kupdate is pdflush's periodic job: every 5 s it writes back files whose pages have "
        "been dirty for more than 30 s, so nothing stays unwritten for long.",
        "2.6.6 writes each file in ascending file offset (it walks the DIRTY tag); 2.6.5 wrote "
        "pages in the order they were dirtied, which seeks more on random writes.",
    )),
    "stats": ("The Counters tab", (
        "The kernel's vmstat counters and their plots over simulated time.",
        "nr_dirty: pages with PG_dirty; nr_writeback: pages whose write is in flight; "
        "pgfault and pgmajfault: page faults, and those that needed the disk; pswpin and "
        "pswpout: pages read from and written to swap; pgscan and pgsteal: pages reclaim "
        "looked at and freed.",
    )),
    "events": ("The Events tab", (
        "The kernel's trace records, newest last: page faults, pages dirtied, writeback "
        "started and ended, disk I/O, reclaim and swap.",
        "/ filters them: kind:dirty, task:NAME, file:NAME, frame:0x1a3 or plain words.",
    )),
    "story": ("The Story tab", (
        "What the scenario is about, and the story so far: each text appears when its "
        "moment comes (a checkpoint, a simulated time, or a condition such as "
        "nr_writeback > 0 first holding) and says what to watch on screen.",
        "Below, every expectation of the scenario: pending until its checkpoint or the end "
        "decides it, then pass or FAIL with the figures it was judged on. r shows the "
        "results screen.",
    )),
    "proc": ("The /proc tab", (
        "The files Linux 2.6.6 shows under /proc, computed from the model: meminfo (memory "
        "by use, in kB), vmstat (the event counters), a task's maps (its VMAs) and status "
        "(VmSize, VmRSS, ...), and a census of the pages by their PG_ flags.",
        "Dirty: in meminfo is nr_dirty times 4 kB, Writeback: the pages whose write is in "
        "flight, SwapCached: the pages of the swap cache. Fields the model has nothing "
        "behind (Buffers, highmem) read 0.",
    )),
}
