"""Memory management (mm/ and arch/i386/mm/ in the kernel tree): allocation, page cache, faults,
mappings, rmap, swap, reclaim, page writeback.
"""
